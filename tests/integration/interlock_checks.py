"""Checks shared by the per-interlock HIL tests: the board, refusals, latched faults, the
simulator's stop events and standstill."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from tests.integration.stack import Stack
from tests.mqtt_probe import Probe

Doc = dict[str, Any]


def entries(p: Probe, system: str, ident: str) -> list[Doc]:
    """The entries `ident` of `system` on the latest retained board."""
    board = p.last("interlocks")
    if not isinstance(board, dict):
        return []
    return [e for e in board["active"] if e["system"] == system and e["id"] == ident]


async def on_board(
    p: Probe, system: str, ident: str, *, latched: bool, timeout_s: float = 5.0
) -> Doc:
    """Wait for the board entry (`latched` as given); check its fields; return it."""

    def found() -> Doc | None:
        got = [e for e in entries(p, system, ident) if e["latched"] is latched]
        return got[0] if got else None

    entry: Doc = await p.wait(found, timeout_s, f"{system}/{ident} on the board")
    assert entry["severity"] in ("trip", "inhibit", "warning"), entry
    assert entry["message"] and entry["since"], entry
    return entry


async def off_board(p: Probe, system: str, ident: str, timeout_s: float = 5.0) -> None:
    await p.wait(lambda: not entries(p, system, ident), timeout_s, f"{system}/{ident} gone")


async def refused(
    p: Probe, system: str | None, action: str, args: Doc | None = None, *, prefix: str
) -> Doc:
    """The command is rejected `interlock` with a message starting with `prefix`."""
    ack = await p.ack(await p.send(system, action, args), system)
    assert ack["result"] == "rejected" and ack["final"] is True, (action, ack)
    assert ack["error"]["code"] == "interlock", (action, ack)
    assert ack["error"]["message"].startswith(prefix), (action, prefix, ack)
    return ack


async def latched(p: Probe, system: str, code: str, timeout_s: float = 10.0) -> Doc:
    """FAULT with `code`, its latched trip entry on the board, motion refused naming it."""
    status = await p.status(system, lambda s: s["state"] == "FAULT", timeout_s)
    assert status["fault"]["code"] == code, status
    entry = await on_board(p, system, code, latched=True)
    assert entry["severity"] == "trip", entry
    ack = await refused(p, system, "retract", prefix=f"{code}:")
    assert "reset first" in ack["error"]["message"], ack
    return status


async def stop_event(p: Probe, system: str, fault: str, timeout_s: float = 5.0) -> Doc:
    """The simulator's `stopped` event for an injected `fault` (the daemon's stop reached the
    faulty drive), with its reaction time."""

    def found() -> Doc | None:
        got = [
            e
            for e in p.on(f"sim/{system}/events")
            if e.get("event") == "stopped" and e.get("fault") == fault
        ]
        return got[0] if got else None

    event: Doc = await p.wait(found, timeout_s, f"{system} stopped event for {fault}")
    assert isinstance(event["reaction_ms"], int | float) and event["reaction_ms"] >= 0, event
    return event


async def truth_after(stack: Stack, system: str, after: float) -> Doc:
    return await stack.settled_truth(after, system)


async def standing_still(
    stack: Stack, system: str, where: Callable[[Doc], float], tolerance: float = 1e-6
) -> None:
    """Two truths a while apart agree: nothing moves."""
    p = stack.probe
    first = where(await truth_after(stack, system, p.msgs[-1].at))
    await asyncio.sleep(0.3)
    later = where(await truth_after(stack, system, p.msgs[-1].at))
    assert abs(later - first) <= tolerance, (system, first, later)


async def reset_refused_while_present(p: Probe, system: str) -> None:
    """`reset` is refused `interlock` ("cause still present") while the cause persists, the
    fault staying latched: rejected at once when the readings show it, or — for a drive alarm,
    judged on fresh readings after the ALARM_RESET the reset sends — failed."""
    cmd_id = await p.send(system, "reset")
    ack = await p.ack(cmd_id, system)
    final = ack if ack["result"] == "rejected" else await p.final(cmd_id, system)
    assert final["result"] in {"rejected", "failed"}, final
    assert final["error"]["code"] == "interlock", final
    assert final["error"]["message"].startswith("cause still present"), final
    status = p.last(f"{system}/status")
    assert status["state"] == "FAULT", status


async def reset_to(p: Probe, system: str, state: str) -> Doc:
    """`reset` completes and leads to `state`; the latched entry leaves the board."""
    rep = await p.run(system, "reset")
    assert rep["result"] == "completed", rep
    status = await p.status(system, lambda s: s["state"] == state and s["fault"] is None, 5.0)
    await p.wait(
        lambda: (
            not [
                e
                for e in (p.last("interlocks") or {"active": []})["active"]
                if e["system"] == system and e["latched"]
            ]
        ),
        5.0,
        f"{system} latched entry gone",
    )
    return status
