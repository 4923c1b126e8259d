"""ACU: a turntable selecting one of four spool units over the central axis.

The FSM table below is the whole behaviour; `on_enter_*` callbacks carry the long actions
(`acu_motion.py` holds the motion sequences), the poll loop watches every axis.
"""

from __future__ import annotations

import asyncio
from typing import Any

from calibd.config import AcuCfg
from calibd.core.commands import Args, Command, NoArgs
from calibd.core.errors import CommandError, ErrorCode, Trip
from calibd.core.fsm import attach
from calibd.core.outbox import Outbox
from calibd.core.subsystem import ActionSpec, Subsystem, sources
from calibd.core.valves import ValveControl
from calibd.subsystems.acu_axes import AcuAxes
from calibd.subsystems.acu_motion import AcuMotion

STATES = [
    "UNKNOWN",
    "HOMING",
    "PARKED",
    "SELECTING",
    "DEPLOYING",
    "MOVING",
    "AT_POSITION",
    "RETRACTING",
    "STOPPED",
    "FAULT",
]
MOTION_STATES = frozenset({"HOMING", "SELECTING", "DEPLOYING", "MOVING", "RETRACTING"})
_NOT_FAULT = [s for s in STATES if s != "FAULT"]

TRANSITIONS: list[dict[str, Any]] = [
    {"trigger": "home", "source": ["UNKNOWN", "PARKED", "STOPPED"], "dest": "HOMING"},
    {"trigger": "homed", "source": "HOMING", "dest": "PARKED"},
    {"trigger": "select", "source": ["PARKED", "STOPPED"], "dest": "SELECTING"},
    {"trigger": "selected", "source": "SELECTING", "dest": "PARKED"},
    {"trigger": "deploy", "source": ["PARKED", "STOPPED"], "dest": "DEPLOYING"},
    {"trigger": "arrived", "source": ["DEPLOYING", "MOVING"], "dest": "AT_POSITION"},
    {"trigger": "move", "source": ["AT_POSITION", "STOPPED"], "dest": "MOVING"},
    {"trigger": "retract", "source": ["AT_POSITION", "STOPPED"], "dest": "RETRACTING"},
    {"trigger": "parked", "source": "RETRACTING", "dest": "PARKED"},
    {"trigger": "stop", "source": "HOMING", "dest": "UNKNOWN"},
    {"trigger": "stop", "source": "SELECTING", "dest": "STOPPED"},
    {"trigger": "stop", "source": ["DEPLOYING", "MOVING", "RETRACTING"], "dest": "STOPPED"},
    {"trigger": "fault", "source": _NOT_FAULT, "dest": "FAULT"},
    {"trigger": "reset", "source": "FAULT", "dest": "UNKNOWN", "unless": "is_homed"},
    {"trigger": "reset", "source": "FAULT", "dest": "PARKED", "conditions": "is_stowed"},
    {"trigger": "reset", "source": "FAULT", "dest": "STOPPED"},
]


class SelectArgs(Args):
    unit: str


class DeployArgs(Args):
    unit: str
    z_m: float


class MoveArgs(Args):
    z_m: float


_ALL = frozenset(STATES)


def _src(trigger: str) -> frozenset[str]:
    return sources(TRANSITIONS, trigger, STATES)


class Acu(Subsystem):
    ACTIONS = {
        "status": ActionSpec(NoArgs, _ALL, motion=False),
        "stop": ActionSpec(NoArgs, _ALL, motion=False),
        "reset": ActionSpec(NoArgs, _src("reset"), motion=False),
        "home": ActionSpec(NoArgs, _src("home")),
        "select": ActionSpec(SelectArgs, _src("select")),
        "deploy": ActionSpec(DeployArgs, _src("deploy")),
        "move": ActionSpec(MoveArgs, _src("move")),
        "retract": ActionSpec(NoArgs, _src("retract")),
    }

    def __init__(
        self,
        cfg: AcuCfg,
        axes: AcuAxes,
        valves: ValveControl,
        outbox: Outbox,
        *,
        time_scale: float = 1.0,
    ) -> None:
        super().__init__("acu", outbox, time_scale=time_scale)
        self.cfg = cfg
        self.axes = axes
        self.valves = valves
        self.motion = AcuMotion(cfg, axes, valves, time_scale=time_scale)
        self.target: dict[str, Any] | None = None
        self._tripping = False
        attach(self, STATES, TRANSITIONS, "UNKNOWN")

    # ---- conditions (pure, on cached readings) ---------------------------------------------

    def is_homed(self, event: Any = None) -> bool:
        return self.axes.homed

    def is_stowed(self, event: Any = None) -> bool:
        return self.axes.all_parked() and self.valves.valve(self.cfg.valve) == "closed"

    # ---- validation before anything moves --------------------------------------------------

    def check_args(self, action: str, args: Any) -> None:
        if action in {"select", "deploy"} and args.unit not in self.axes.units:
            raise CommandError(
                ErrorCode.OUT_OF_RANGE,
                f"unit {args.unit!r} is not one of {', '.join(self.axes.units)}",
            )
        if action in {"deploy", "move"}:
            lo, hi = self.cfg.z_min_m, self.cfg.z_max_m
            if not lo <= args.z_m <= hi:
                raise CommandError(ErrorCode.OUT_OF_RANGE, f"z_m {args.z_m} outside [{lo}, {hi}]")

    def check(self, action: str, args: Any) -> None:
        if (
            action in {"select", "deploy"}
            and self.state == "STOPPED"
            and not self.axes.all_parked()
        ):
            raise CommandError(
                ErrorCode.INVALID_STATE, "a source is out: retract (or move) it first"
            )
        if action == "move" and self.axes.current is None:
            raise CommandError(ErrorCode.INVALID_STATE, "no unit under the port")
        if action == "reset":
            cause = self.axes.fault_cause()
            if cause is not None:
                raise CommandError(ErrorCode.INTERLOCK, f"cause still present: {cause}")

    # ---- actions (each awaits one trigger; the on_enter callbacks do the work) --------------

    async def act_status(self, cmd: Command, args: Any) -> None:
        self.publish_status()

    async def act_home(self, cmd: Command, args: Any) -> None:
        self.target = None
        await self.run_trigger("home", {"PARKED"})

    async def act_select(self, cmd: Command, args: SelectArgs) -> None:
        self.target = {"z_m": None, "unit": args.unit}
        await self.run_trigger("select", {"PARKED"}, unit=args.unit)

    async def act_deploy(self, cmd: Command, args: DeployArgs) -> None:
        self.target = {"z_m": args.z_m, "unit": args.unit}
        await self.run_trigger("deploy", {"AT_POSITION"}, unit=args.unit, z_m=args.z_m)

    async def act_move(self, cmd: Command, args: MoveArgs) -> None:
        self.target = {"z_m": args.z_m, "unit": self.axes.current}
        await self.run_trigger("move", {"AT_POSITION"}, z_m=args.z_m)

    async def act_retract(self, cmd: Command, args: Any) -> None:
        self.target = {"z_m": self.cfg.z_park_m, "unit": self.axes.current}
        await self.run_trigger("retract", {"PARKED"})

    async def act_stop(self, cmd: Command, args: Any) -> None:
        if self.state in _src("stop"):
            await self.trigger("stop")
        else:
            await self.axes.halt_all()

    async def act_reset(self, cmd: Command, args: Any) -> None:
        await self.axes.reset_alarms()
        if self.axes.reference_lost():
            self.axes.homed = False  # reset leads to UNKNOWN: home again before any move
        self.latched = None
        self._tripping = False
        await self.run_trigger("reset", {"UNKNOWN", "PARKED", "STOPPED"})

    # ---- state callbacks ---------------------------------------------------------------------

    async def _guarded(self, what: str, coro: Any) -> None:
        """Run a motion sequence; a Trip inside it latches the fault in this same task."""
        try:
            await coro
        except Trip as exc:
            await self._latch(exc)
            return
        await self.trigger(what)

    async def _latch(self, exc: Trip) -> None:
        self._tripping = True
        await self._trip(exc)

    def trip(self, exc: Trip) -> None:
        if self._tripping or self.state == "FAULT":
            return
        self._tripping = True
        super().trip(exc)

    async def on_enter_HOMING(self, event: Any) -> None:  # noqa: N802 - transitions naming
        await self._guarded("homed", self.motion.home())

    async def on_enter_SELECTING(self, event: Any) -> None:  # noqa: N802
        await self._guarded("selected", self.motion.select(event.kwargs["unit"]))

    async def on_enter_DEPLOYING(self, event: Any) -> None:  # noqa: N802
        kw = event.kwargs
        await self._guarded("arrived", self.motion.deploy(kw["unit"], kw["z_m"]))

    async def on_enter_MOVING(self, event: Any) -> None:  # noqa: N802
        await self._guarded("arrived", self.motion.move(event.kwargs["z_m"]))

    async def on_enter_RETRACTING(self, event: Any) -> None:  # noqa: N802
        await self._guarded("parked", self.motion.retract())

    async def on_enter_STOPPED(self, event: Any) -> None:  # noqa: N802
        await self.axes.halt_all()

    async def on_enter_UNKNOWN(self, event: Any) -> None:  # noqa: N802
        if event.event.name == "stop":
            await self.axes.halt_all()

    async def on_enter_FAULT(self, event: Any) -> None:  # noqa: N802
        await self.axes.halt_all()

    async def on_enter_PARKED(self, event: Any) -> None:  # noqa: N802
        self.target = None

    async def safe_stop(self) -> None:
        await self.axes.halt_all()

    # ---- poll --------------------------------------------------------------------------------

    async def poll_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            try:
                await self.axes.poll()
            except Trip as exc:
                self.trip(exc)
            if self.state != "FAULT":
                try:
                    self.axes.check_protections()
                except Trip as exc:
                    self.trip(exc)
            # fast while anything moves, and while a fault is latched (so a reset sees fresh data)
            busy = self.state in MOTION_STATES or self.state == "FAULT" or self.axes.any_moving()
            self.telemetry(self.axes.telemetry())
            if busy or self.status_due(1.0):
                self.publish_status()
            period = 1.0 / self.cfg.poll_fast_hz if busy else self.cfg.poll_idle_s
            await asyncio.sleep(max(0.0, period - (loop.time() - started)))

    def status_fields(self) -> dict[str, Any]:
        unit = self.axes.current
        z = self.axes.z_m(unit) if unit is not None else None
        return {
            "homed": self.axes.homed,
            "deployed": not self.axes.all_parked(),
            "source": self.axes.source(unit) if unit else None,
            "position": {"z_m": None if z is None else round(z, 5), "unit": unit},
            "target": self.target,
            "unit_positions": self.axes.unit_summary(),
        }
