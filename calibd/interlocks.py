"""The interlock board: every active interlock of every system, as one retained document.

Sources of entries:
- each subsystem's latched fault (severity `trip`, `latched: true` until an operator `reset`),
- each subsystem's warnings (`Subsystem.warn`, severity `warning`),
- the cross-system rules below, evaluated on cached readings (no I/O) every `period_s`.

Rules of this version:

- `estop_input` (trip): the house e-stop circuit is open. Every deployment system trips with
  `estop_input` (latched); while the circuit stays open every action but `status`/`stop` is
  refused `interlock`, `reset` included. Reset rule: close the circuit, then `reset`.

The board publishes `{root}/interlocks` (retained) whenever the set of active interlocks or a
message changes, and an `interlock` event per entry raised or cleared.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, Protocol

import structlog

from calibd.core.errors import CommandError, ErrorCode, Trip
from calibd.core.outbox import Outbox, Outgoing
from calibd.core.subsystem import Subsystem
from calibd.core.timefmt import iso_now

log = structlog.get_logger("calibd.interlocks")
ALWAYS_ALLOWED = frozenset({"status", "stop"})


class EstopInput(Protocol):
    """The house's e-stop circuit reading (None: no reading)."""

    def estop_ok(self) -> bool | None: ...


class InterlockBoard:
    def __init__(
        self,
        subsystems: Mapping[str, Subsystem],
        house: EstopInput,
        outbox: Outbox,
        *,
        deployment_systems: frozenset[str],
        period_s: float = 0.02,
    ) -> None:
        self.subsystems = subsystems
        self.house = house
        self.outbox = outbox
        self.deployment_systems = deployment_systems
        self.period_s = period_s
        self._rules: dict[str, dict[str, Any]] = {}  # active cross-system rule entries by id
        self._published: dict[tuple[str, str], dict[str, Any]] = {}

    # ---- rules -------------------------------------------------------------------------------

    def _estop(self) -> None:
        open_circuit = self.house.estop_ok() is False
        if open_circuit and "estop_input" not in self._rules:
            self._rules["estop_input"] = {
                "id": "estop_input",
                "system": "house",
                "severity": "trip",
                "message": "house e-stop circuit open: every drive stopped",
                "since": iso_now(),
                "latched": False,
            }
            log.error("estop_input")
        elif not open_circuit and "estop_input" in self._rules:
            del self._rules["estop_input"]
            log.info("estop_input_closed")
        if open_circuit:
            # trip every deployment system (and keep tripping one that was reset meanwhile)
            for name in self.deployment_systems:
                sub = self.subsystems.get(name)
                if sub is not None and sub.state != "FAULT":
                    sub.trip(
                        Trip("estop_input", "house e-stop circuit open", error=ErrorCode.INTERLOCK)
                    )

    def check(self, system: str, action: str) -> None:
        """Refuse (`interlock`) an action an active inhibit forbids; called before submit."""
        if action in ALWAYS_ALLOWED:
            return
        estop = self._rules.get("estop_input")
        if estop is not None:
            raise CommandError(ErrorCode.INTERLOCK, f"estop_input: {estop['message']}")

    # ---- the board -----------------------------------------------------------------------------

    def active(self) -> list[dict[str, Any]]:
        """Every active interlock, rules first, then per system (faults, warnings)."""
        out = list(self._rules.values())
        for name, sub in self.subsystems.items():
            if sub.latched is not None:
                out.append(
                    {
                        "id": sub.latched.code,
                        "system": name,
                        "severity": "trip",
                        "message": sub.latched.message,
                        "since": sub.since,
                        "latched": True,
                    }
                )
            out.extend(sub.warnings.values())
        return out

    def evaluate(self) -> None:
        """Apply the rules and publish the board if it changed."""
        self._estop()
        now = {(e["system"], e["id"]): e for e in self.active()}
        if {k: v["message"] for k, v in now.items()} == {
            k: v["message"] for k, v in self._published.items()
        }:
            return
        # faults and warnings announce themselves (fault / interlock events); the rules here
        rules = {(e["system"], e["id"]) for e in self._rules.values()}
        for key in (now.keys() - self._published.keys()) & rules:
            self._event("raised", now[key])
        gone = {(e["system"], e["id"]) for e in self._published.values() if e["latched"] is False}
        for key in (self._published.keys() - now.keys()) & gone:
            if self._published[key]["severity"] != "warning":
                self._event("cleared", self._published[key])
        self._published = now
        self.outbox.interlocks({"ts": iso_now(), "active": list(now.values())})

    def _event(self, state: str, entry: dict[str, Any]) -> None:
        doc = {"event": "interlock", "state": state, "ts": iso_now(), **entry}
        self.outbox.put(Outgoing("event", entry["system"], doc))

    async def run(self) -> None:
        """Publish the empty board at start, then evaluate every `period_s`."""
        self.outbox.interlocks({"ts": iso_now(), "active": []})
        while True:
            self.evaluate()
            await asyncio.sleep(self.period_s)
