"""Command parsing and validation: each error code before anything moves."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from calibd.core.commands import Args, Inbound, parse, reply, validate_args
from calibd.core.errors import CommandError


def _in(doc: object, **kw: object) -> Inbound:
    payload = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    return Inbound(system="acu", payload=payload, **kw)  # type: ignore[arg-type]


def _code(inbound: Inbound, **kw: float) -> str:
    with pytest.raises(CommandError) as exc:
        parse(inbound, **kw)
    return str(exc.value.code)


def test_good_command() -> None:
    cmd = parse(
        _in({"id": "c-1", "action": "deploy", "args": {"unit": "A", "z_m": 5}, "operator": "o"})
    )
    assert (cmd.id, cmd.action, cmd.args, cmd.operator) == (
        "c-1",
        "deploy",
        {"unit": "A", "z_m": 5},
        "o",
    )


@pytest.mark.parametrize(
    ("doc", "code"),
    [
        (b"{nope", "bad_json"),
        (b"\xff\xfe", "bad_json"),
        ([1, 2], "bad_request"),
        ({"action": "home"}, "bad_request"),
        ({"id": 7, "action": "home"}, "bad_request"),
        ({"id": "a\nb", "action": "home"}, "bad_request"),
        ({"id": "x" * 65, "action": "home"}, "bad_request"),
        ({"id": "c"}, "bad_request"),
        ({"id": "c", "action": "home", "args": [1]}, "bad_request"),
        ({"id": "c", "action": "home", "operator": 3}, "bad_request"),
    ],
)
def test_rejections(doc: object, code: str) -> None:
    assert _code(_in(doc)) == code


def test_retained_and_expired() -> None:
    assert _code(_in({"id": "c", "action": "home"}, retained=True)) == "retained"
    inbound = _in({"id": "c", "action": "home"}, expiry_s=2.0, received_at=100.0)
    assert parse(inbound, now=101.0).id == "c"
    assert _code(inbound, now=102.5) == "expired"
    past = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    assert _code(_in({"id": "c", "action": "home", "expires_at": past})) == "expired"
    future = (datetime.now(UTC) + timedelta(seconds=60)).isoformat()
    assert parse(_in({"id": "c", "action": "home", "expires_at": future})).id == "c"
    assert _code(_in({"id": "c", "action": "home", "expires_at": "soon"})) == "bad_request"


class Deploy(Args):
    unit: str
    z_m: float


def test_args_are_strict() -> None:
    assert validate_args(Deploy, {"unit": "A", "z_m": 3}).z_m == 3.0
    for bad in (
        {"unit": "A", "z_m": "3"},
        {"unit": "A", "z_m": True},
        {"unit": "A"},
        {"unit": "A", "z_m": 1, "speed": 2},
        {"unit": "A", "z_m": float("nan")},
    ):
        with pytest.raises(CommandError) as exc:
            validate_args(Deploy, bad)
        assert exc.value.code == "bad_request"


def test_reply_shape() -> None:
    r = reply("c", "acu", "home", "accepted")
    assert r["final"] is False and r["error"] is None and r["ts"].endswith("Z")
    f = reply("c", "acu", "home", "failed", error=CommandError("timeout", "slow"))  # type: ignore[arg-type]
    assert f["final"] is True and f["error"] == {"code": "timeout", "message": "slow"}
