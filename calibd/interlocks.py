"""The interlock board: evaluates the cross-system table, gates commands, publishes the board.

- Evaluated after every poll of fresh data of any subsystem (`on_fresh`) and every `period_s`,
  on cached readings only (no I/O): each row of `calibd.plant_rules.PLANT_INTERLOCKS` says what
  is active now; a `trip` finding trips the systems it names (each halts at once and latches
  FAULT until the cause is gone and an operator sends `reset`).
- `check(system, action, args)`, called by every subsystem's `submit` before anything moves,
  refuses `interlock` naming the row that forbids the command.
- The house asks `may_open` / `may_close` before it moves a gate valve.
- The global e-stop (`estop`) latches here until the global `reset`.
- `{root}/interlocks` (retained) carries every active entry: the rules' findings, every
  system's latched fault (trip) and warnings; an `interlock` event per rule entry raised or
  cleared (faults and warnings announce themselves).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any, Protocol, cast

import structlog

from calibd.cfg_interlocks import InterlocksCfg
from calibd.core.deployment_presence import enters
from calibd.core.errors import CommandError, ErrorCode, Trip
from calibd.core.interlock import Severity, entry
from calibd.core.outbox import Outbox, Outgoing
from calibd.core.presence import Presence, Segment
from calibd.core.subsystem import Subsystem
from calibd.core.timefmt import iso_now
from calibd.plant_checks import atmosphere_refusal, path_refusal
from calibd.plant_rules import PLANT_INTERLOCKS
from calibd.plant_view import PlantView, Request
from calibd.subsystems.house import ValveGuard

log = structlog.get_logger("calibd.interlocks", subsystem="interlocks")


class Deployable(Protocol):
    """What the board needs of a deployment system (`DeploymentSystem` implements it)."""

    state: str

    def presence(self) -> Presence: ...

    def cables_for(self, action: str, args: Any) -> tuple[Segment, ...]: ...

    def trip(self, exc: Trip) -> None: ...


class HouseView(Protocol):
    """What the board reads from (and installs into) the house."""

    guard: ValveGuard | None

    def estop_ok(self) -> bool | None: ...

    def atmosphere(self) -> tuple[float, float] | None: ...


class InterlockBoard:
    def __init__(
        self,
        subsystems: Mapping[str, Subsystem],
        house: HouseView,
        outbox: Outbox,
        cfg: InterlocksCfg | None = None,
        *,
        period_s: float = 0.02,
    ) -> None:
        self.subsystems = subsystems
        self.deployment: dict[str, Deployable] = {
            n: cast(Deployable, s) for n, s in subsystems.items() if hasattr(s, "presence")
        }
        self.house = house
        self.outbox = outbox
        self.cfg = cfg or InterlocksCfg()
        self.period_s = period_s
        #: liveness for the systemd watchdog (calibd/watchdog.py): poll rounds each system's
        #: loop has reported through `fresh` (once per round, read or failed), and this loop's
        self.polls: dict[str, int] = dict.fromkeys(subsystems, 0)
        self.rounds = 0
        self.permit = False
        self._estop: str | None = None
        self._input_latched = False  # the e-stop circuit opened since the last global reset
        self._presence: dict[str, Presence] = {}  # each system's, as of its latest poll
        self._rules: dict[tuple[str, str], dict[str, Any]] = {}  # active rule entries
        self._published: dict[tuple[Any, ...], dict[str, Any]] = {}
        self._published_rules: set[tuple[Any, ...]] = set()
        for sub in subsystems.values():
            sub.gate = self
            sub.on_fresh = self.fresh
        house.guard = self

    # ---- inputs --------------------------------------------------------------------------------

    def view(self, *, cached: bool = False) -> PlantView:
        """The plant now. `cached`: each system as of its latest poll (evaluation after a poll);
        otherwise every system asked afresh (a command check must see commands just accepted)."""
        if not cached or self._presence.keys() != self.deployment.keys():
            self._presence = {n: s.presence() for n, s in self.deployment.items()}
        circuit = self.house.estop_ok()
        if circuit is False:
            self._input_latched = True
        return PlantView(
            systems=dict(self._presence),
            cfg=self.cfg,
            estop=self._estop,
            estop_input_open=circuit is False,
            estop_input_latched=self._input_latched,
            atmosphere=self.house.atmosphere(),
            permit=self.permit,
            ready=circuit is not None and all(p.known for p in self._presence.values()),
        )

    def fresh(self, system: str) -> None:
        """A subsystem has judged fresh readings: update its presence, evaluate the rules."""
        self.polls[system] = self.polls.get(system, 0) + 1
        sub = self.deployment.get(system)
        if sub is not None and self._presence:
            self._presence[system] = sub.presence()
        self.evaluate(cached=True)

    def estop(self, message: str) -> list[str]:
        """The global e-stop: latch and trip every deployment system now; their names."""
        self._estop = message
        log.error("estop", message=message)
        self.evaluate()
        return sorted(self.deployment)

    def release_estop(self) -> None:
        """The global `reset`: release the e-stop latches (the input's only once the circuit is
        closed); the systems are then reset one by one."""
        if self._estop is not None:
            log.info("estop_released")
        self._estop = None
        if self.house.estop_ok() is not False:
            self._input_latched = False

    def set_permit(self, payload: bytes) -> None:
        """Run control's permit message: `{"permit": true}` (or a bare JSON `true`) grants it;
        anything else withdraws it."""
        try:
            doc = json.loads(payload) if payload else None
        except ValueError:
            doc = None
        granted = doc is True or (isinstance(doc, dict) and doc.get("permit") is True)
        if granted != self.permit:
            log.info("run_permit", granted=granted)
        self.permit = granted
        self.evaluate()

    # ---- gates ---------------------------------------------------------------------------------

    def check(self, system: str, action: str, args: Any) -> None:
        """Refuse (`interlock`, naming the row) a command an interlock forbids now."""
        view = self.view()
        sub = self.deployment.get(system)
        if sub is None:  # the house: only the e-stop rows apply
            request = Request(system, action, entry=False)
        else:
            here = view.systems[system]
            entry_ = enters(action, here.deployed) and not here.inside
            request = Request(system, action, entry_, sub.cables_for(action, args))
        for rule, _, refuse in PLANT_INTERLOCKS:
            if sub is None and rule.id not in {"estop", "estop_input"}:
                continue
            message = refuse(view, request)
            if message is not None:
                raise CommandError(ErrorCode.INTERLOCK, f"{rule.id}: {message}")

    def may_open(self, valve: str) -> tuple[str, str] | None:
        view = self.view()
        if view.estop is not None or view.estop_input_open:
            return ("estop", "e-stop: no valve opens")
        return atmosphere_refusal(view)

    def may_close(self, valve: str) -> tuple[str, str] | None:
        return path_refusal(self.view(), valve)

    # ---- the board -----------------------------------------------------------------------------

    def _apply(self, view: PlantView) -> None:
        now: dict[tuple[str, str], dict[str, Any]] = {}
        tripped: set[str] = set()  # the first row that trips a system names its fault
        for rule, evaluate, _ in PLANT_INTERLOCKS:
            for f in evaluate(view):
                for name in set(f.trips) - tripped:
                    tripped.add(name)
                    sub = self.deployment[name]
                    if sub.state != "FAULT":
                        sub.trip(Trip(f.id, f.message, error=rule.error))
                key = (f.system, f.id)
                old = self._rules.get(key)
                since = old["since"] if old and old["severity"] == f.severity else iso_now()
                now[key] = entry(f.id, f.system, f.severity, f.message, since, latched=f.latched)
        for key in now.keys() - self._rules.keys():
            log.warning("interlock_raised", **now[key])
        self._rules = now

    def active(self) -> list[dict[str, Any]]:
        """Every active interlock: rule entries, then per system its latched trip and warnings."""
        out = list(self._rules.values())
        for name, sub in self.subsystems.items():
            if sub.latched is not None:
                out.append(
                    entry(
                        sub.latched.code,
                        name,
                        Severity.TRIP,
                        sub.latched.message,
                        sub.since,
                        latched=True,
                    )
                )
            out.extend(sub.warnings.values())
        return out

    def evaluate(self, *, cached: bool = False) -> None:
        """Apply the rules and publish the board if it changed."""
        self._apply(self.view(cached=cached))
        now: dict[tuple[Any, ...], dict[str, Any]] = {
            (e["system"], e["id"], e["latched"]): e for e in self.active()
        }
        if {k: (v["message"], v["severity"]) for k, v in now.items()} == {
            k: (v["message"], v["severity"]) for k, v in self._published.items()
        }:
            return
        # events for the rules' entries (faults and warnings announce themselves)
        rules: set[tuple[Any, ...]] = {(s, i, e["latched"]) for (s, i), e in self._rules.items()}
        for key in (now.keys() - self._published.keys()) & rules:
            self._event("raised", now[key])
        for key in (self._published.keys() - now.keys()) & self._published_rules:
            self._event("cleared", self._published[key])
        self._published, self._published_rules = now, rules
        self.outbox.interlocks({"ts": iso_now(), "active": list(now.values())})

    def _event(self, state: str, item: dict[str, Any]) -> None:
        doc = {"event": "interlock", "state": state, "ts": iso_now(), **item}
        self.outbox.put(Outgoing("event", str(item["system"]), doc))

    async def run(self) -> None:
        """Publish the board at start, then evaluate every `period_s` (a backstop: every poll
        of fresh data evaluates it too)."""
        self.outbox.interlocks({"ts": iso_now(), "active": []})
        while True:
            self.evaluate()
            self.rounds += 1
            await asyncio.sleep(self.period_s)
