"""Warning interlocks: raised once, listed in status, cleared with an event."""

from __future__ import annotations

from typing import Any

from calibd.core.fsm import attach
from calibd.core.outbox import Outbox
from calibd.core.subsystem import Subsystem


class _Thing(Subsystem):
    pass


def _drain(outbox: Outbox) -> list[Any]:
    out = []
    while (item := outbox.get_nowait()) is not None:
        out.append(item)
    return out


def test_warning_raise_update_clear() -> None:
    outbox = Outbox(64)
    thing = _Thing("thing", outbox)
    attach(thing, ["IDLE"], [], "IDLE")
    thing.warn("uss_mismatch", True, "6 cm")
    thing.warn("uss_mismatch", True, "7 cm")  # no second event, message updated
    items = _drain(outbox)
    raised = [i for i in items if i.kind == "event" and i.payload["event"] == "interlock"]
    assert len(raised) == 1 and raised[0].payload["state"] == "raised"
    thing.publish_status()
    status = [i for i in _drain(outbox) if i.kind == "status"][-1].payload
    assert status["interlocks"][0]["message"] == "7 cm"
    assert status["interlocks"][0]["severity"] == "warning"
    thing.warn("uss_mismatch", False)
    items = _drain(outbox)
    cleared = [i for i in items if i.kind == "event"]
    assert cleared[0].payload["state"] == "cleared"
    assert [i for i in items if i.kind == "status"][-1].payload["interlocks"] == []
