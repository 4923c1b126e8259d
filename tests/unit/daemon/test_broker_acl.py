"""The broker's ACL: rendered from config/mosquitto/roles.toml, the shipped acl equal to the
rendering, the roles file checked, and who may write what in the shipped production ACL."""

from __future__ import annotations

from pathlib import Path

import pytest
from paho.mqtt.client import topic_matches_sub

from calibd.__main__ import main
from calibd.broker_acl import RolesError, load_roles, render

ROOT = Path(__file__).resolve().parents[3]
ROLES = ROOT / "config" / "mosquitto" / "roles.toml"
SHIPPED = ROOT / "config" / "mosquitto" / "acl"

#: what only the daemon may publish (relative to juno/calib)
DAEMON_ONLY = [
    "daemon/state", "acu/status", "house/status", "program/status", "acu/telemetry",
    "acu/reply", "reply", "events", "interlocks", "inventory", "deployments/summary",
    "daq/request", "acu/profile", "client/shifter/abc",
]  # fmt: skip


def acl(text: str) -> dict[str, list[tuple[str, str]]]:
    """user -> [(access, filter)] of an acl_file; the patterns under the key "%"."""
    out: dict[str, list[tuple[str, str]]] = {"%": []}
    user = None
    for line in text.splitlines():
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        if words[0] == "user":
            user = words[1]
            out[user] = []
        elif words[0] == "pattern":
            out["%"].append((words[1], words[2]))
        else:
            assert words[0] == "topic" and user is not None, line
            out[user].append((words[1], words[2]))
    return out


def writers(rules: dict[str, list[tuple[str, str]]], topic: str) -> set[str]:
    """The users that may publish `topic` (patterns with %u substituted)."""
    out = set()
    for user, entries in rules.items():
        if user == "%":
            continue
        entries = [*entries, *((a, t.replace("%u", user)) for a, t in rules["%"])]
        if any(a in ("write", "readwrite") and topic_matches_sub(t, topic) for a, t in entries):
            out.add(user)
    return out


def test_shipped_acl_is_the_rendering_of_the_shipped_roles() -> None:
    rendered = render(load_roles(ROLES), "juno/calib", source="config/mosquitto/roles.toml")
    assert SHIPPED.read_text() == rendered


def test_cli_renders_the_same(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    out = tmp_path / "acl"
    with pytest.raises(SystemExit) as end:
        main(["broker-acl", "config/mosquitto/roles.toml", "--output", str(out)])
    assert end.value.code == 0
    assert out.read_text() == SHIPPED.read_text()


def test_who_may_write_what_in_production() -> None:
    rules = acl(SHIPPED.read_text())
    roles = load_roles(ROLES)
    daemon = {u for u, r in roles.users.items() if r == "daemon"}
    assert daemon == {"calibd"}
    for topic in DAEMON_ONLY:
        assert writers(rules, f"juno/calib/{topic}") == daemon | (
            {"shifter"} if topic.startswith("client/shifter/") else set()
        ), topic
    assert writers(rules, "juno/calib/acu/cmd") == {"shifter", "expert", "tester", "calibd"}
    assert writers(rules, "juno/calib/acu/expert/cmd") == {"expert", "calibd"}
    assert writers(rules, "juno/calib/sim/acu/fault") == {"expert", "tester"}
    assert writers(rules, "juno/calib/sim/acu/truth") == {"calibsim"}
    assert writers(rules, "juno/calib/runcontrol/permit") == {"runcontrol"}
    assert writers(rules, "juno/calib/daq/done") == {"daq"}
    assert writers(rules, "elsewhere/acu/cmd") == set()
    assert rules["dashboard"] == [("read", "juno/calib/#")]
    assert rules["%"] == [("readwrite", "juno/calib/client/%u/#")]


def test_rendering_for_another_root_and_absolute_topics(tmp_path: Path) -> None:
    path = tmp_path / "roles.toml"
    path.write_text(
        '[roles.base]\nread = ["#"]\n[roles.rc]\ninclude = ["base"]\n'
        'write = ["/plant/permit", "x/+/y"]\nread = ["x/+/y"]\n'
        '[users]\n"r.c" = "rc"\n'
    )
    text = render(load_roles(path), "site/calib/")
    assert "pattern" not in text
    assert acl(text)["r.c"] == [
        ("read", "site/calib/#"),
        ("readwrite", "site/calib/x/+/y"),
        ("write", "plant/permit"),
    ]


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ('[roles.a]\nread = ["#"]\n[users]\nu = "b"\n', "unknown roles"),
        ('[roles.a]\ninclude = ["b"]\n[roles.b]\ninclude = ["a"]\n[users]\n', "include each"),
        ('[roles.a]\ninclude = ["c"]\n[users]\n', "unknown roles"),
        ('[roles.a]\nwrite = ["a/#/b"]\n[users]\n', "whole levels"),
        ('[roles.a]\nwrite = ["a/b+"]\n[users]\n', "whole levels"),
        ('[roles.a]\nwrite = ["client/%u"]\n[users]\n', "%u/%c only"),
        ('[roles.a]\nwrite = ["a b"]\n[users]\n', "not a topic filter"),
        ('[roles.a]\n[users]\n"a b" = "a"\n', "user names"),
        ('[roles.a]\nwrte = ["x"]\n[users]\n', "Extra inputs"),
        ("[roles.a\n", "not valid TOML"),
    ],
)
def test_bad_roles_files_are_refused(tmp_path: Path, body: str, error: str) -> None:
    path = tmp_path / "roles.toml"
    path.write_text(body)
    with pytest.raises(RolesError, match=error):
        load_roles(path)


def test_bad_root_is_refused() -> None:
    with pytest.raises(RolesError, match="topic root"):
        render(load_roles(ROLES), "juno/+")
