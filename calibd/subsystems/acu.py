"""ACU: a turntable selecting one of four spool units over the central axis.

The FSM table below is the whole behaviour; `on_enter_*` callbacks carry the long actions
(`acu_motion.py` holds the motion sequences), the poll loop watches every axis.
"""

from __future__ import annotations

from typing import Any

from calibd.config import AcuCfg
from calibd.core.commands import Args, Command, NoArgs
from calibd.core.deployment_actions import action_table
from calibd.core.errors import CommandError, ErrorCode
from calibd.core.fsm import attach
from calibd.core.outbox import Outbox
from calibd.core.presence import Segment
from calibd.core.valves import ValveControl
from calibd.subsystems.acu_axes import AcuAxes
from calibd.subsystems.acu_laser_args import laser_actions
from calibd.subsystems.acu_laser_hooks import LaserHooks
from calibd.subsystems.acu_motion import AcuMotion
from calibd.subsystems.acu_profile import ProfileArgs, Profiler
from drivers.laser import Laser
from drivers.thermometer import TemperatureSensor

STATES = [
    "UNKNOWN",
    "HOMING",
    "PARKED",
    "SELECTING",
    "DEPLOYING",
    "MOVING",
    "PROFILING",
    "AT_POSITION",
    "RETRACTING",
    "STOPPED",
    "FAULT",
]
MOTION_STATES = frozenset({"HOMING", "SELECTING", "DEPLOYING", "MOVING", "PROFILING", "RETRACTING"})
_NOT_FAULT = [s for s in STATES if s != "FAULT"]

TRANSITIONS: list[dict[str, Any]] = [
    {"trigger": "home", "source": ["UNKNOWN", "PARKED", "STOPPED"], "dest": "HOMING"},
    {"trigger": "homed", "source": "HOMING", "dest": "PARKED"},
    {"trigger": "select", "source": ["PARKED", "STOPPED"], "dest": "SELECTING"},
    {"trigger": "selected", "source": "SELECTING", "dest": "PARKED"},
    {"trigger": "deploy", "source": ["PARKED", "STOPPED"], "dest": "DEPLOYING"},
    {"trigger": "arrived", "source": ["DEPLOYING", "MOVING"], "dest": "AT_POSITION"},
    {"trigger": "move", "source": ["AT_POSITION", "STOPPED"], "dest": "MOVING"},
    {"trigger": "profile", "source": ["AT_POSITION", "STOPPED"], "dest": "PROFILING"},
    # a sensor failure stops the unit where it is (unless it had not moved yet)
    {
        "trigger": "profiled",
        "source": "PROFILING",
        "dest": "AT_POSITION",
        "conditions": "profile_at_target",
    },
    {"trigger": "profiled", "source": "PROFILING", "dest": "STOPPED"},
    {"trigger": "retract", "source": ["AT_POSITION", "STOPPED"], "dest": "RETRACTING"},
    {"trigger": "parked", "source": "RETRACTING", "dest": "PARKED"},
    {"trigger": "stop", "source": "HOMING", "dest": "UNKNOWN"},
    {"trigger": "stop", "source": "SELECTING", "dest": "STOPPED"},
    {
        "trigger": "stop",
        "source": ["DEPLOYING", "MOVING", "PROFILING", "RETRACTING"],
        "dest": "STOPPED",
    },
    {"trigger": "fault", "source": _NOT_FAULT, "dest": "FAULT"},
    {"trigger": "reset", "source": "FAULT", "dest": "UNKNOWN", "unless": "is_homed"},
    {"trigger": "reset", "source": "FAULT", "dest": "PARKED", "conditions": "is_stowed"},
    {"trigger": "reset", "source": "FAULT", "dest": "STOPPED"},
    # `retract` out of a position_mismatch (restart recovery): slowly onto the home switches
    {"trigger": "recover", "source": "FAULT", "dest": "HOMING"},
]


class SelectArgs(Args):
    unit: str


class DeployArgs(Args):
    unit: str
    z_m: float


class MoveArgs(Args):
    z_m: float


class Acu(LaserHooks):
    STATES = STATES
    TRANSITIONS = TRANSITIONS
    MOTION_STATES = MOTION_STATES
    ACTIONS = laser_actions(STATES) | action_table(
        STATES,
        TRANSITIONS,
        {
            "home": NoArgs,
            "select": SelectArgs,
            "deploy": DeployArgs,
            "move": MoveArgs,
            "profile": ProfileArgs,
            "retract": NoArgs,
        },
    )

    def __init__(
        self,
        cfg: AcuCfg,
        axes: AcuAxes,
        valves: ValveControl,
        outbox: Outbox,
        *,
        time_scale: float = 1.0,
        laser: Laser | None = None,
    ) -> None:
        super().__init__(
            "acu",
            outbox,
            axes,
            poll_fast_hz=cfg.poll_fast_hz,
            poll_idle_s=cfg.poll_idle_s,
            time_scale=time_scale,
        )
        self.cfg = cfg
        self.axes = axes
        self.valves = valves
        self.attach_laser(laser)  # [acu.laser]: the UV laser (acu_laser_hooks.py)
        self.motion = AcuMotion(cfg, axes, self.laser_valves(valves), time_scale=time_scale)
        #: the temperature-profile sensor's action (None: no [acu.thermometer])
        self.profiler: Profiler | None = None
        attach(self, STATES, TRANSITIONS, "UNKNOWN")

    # ---- conditions (pure, on cached readings) ---------------------------------------------

    def is_stowed(self, event: Any = None) -> bool:
        return self.axes.all_parked() and self.valves.valve(self.cfg.valve) == "closed"

    def profile_at_target(self, event: Any = None) -> bool:
        profiler = self.profiler
        return profiler is None or profiler.error is None or not profiler.moved

    def attach_thermometer(self, sensor: TemperatureSensor) -> None:
        """The sensor of `[acu.thermometer]` (its unit's cable carries it and its line)."""
        self.profiler = Profiler(
            self.cfg,
            sensor,
            self.axes,
            self.motion,
            self.outbox,
            self.event,
            lambda: self.latched,
            time_scale=self.time_scale,
        )

    def _profiler(self) -> Profiler:
        if self.profiler is None:
            raise CommandError(
                ErrorCode.INVALID_STATE, "no temperature sensor configured ([acu.thermometer])"
            )
        return self.profiler

    # ---- maintenance --------------------------------------------------------------------------

    def units(self) -> tuple[str, ...]:
        return tuple(self.axes.units)

    def slot_parked(self, unit: str | None) -> bool:
        u = self.axes.units.get(unit or "")
        return self.command is None and self.state not in MOTION_STATES and bool(u and u.parked)

    # ---- validation before anything moves --------------------------------------------------

    def check_args(self, action: str, args: Any) -> None:
        self.laser_check_args(action, args)
        if action in {"select", "deploy"} and args.unit not in self.axes.units:
            raise CommandError(
                ErrorCode.OUT_OF_RANGE,
                f"unit {args.unit!r} is not one of {', '.join(self.axes.units)}",
            )
        if action in {"deploy", "move"}:
            lo, hi = self.cfg.z_min_m, self.cfg.z_max_m
            if not lo <= args.z_m <= hi:
                raise CommandError(ErrorCode.OUT_OF_RANGE, f"z_m {args.z_m} outside [{lo}, {hi}]")
        if action == "profile":
            self._profiler().check_args(args)

    def check(self, action: str, args: Any) -> None:
        if action == "select" and not self.axes.all_parked():
            out = ", ".join(n for n, u in self.axes.units.items() if not u.parked)
            raise CommandError(
                ErrorCode.INTERLOCK,
                f"turntable_spool_out: unit {out} is off its home switch; the turntable turns"
                " only with every spool parked",
            )
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
        if action == "profile":
            self._profiler().check(self.inventory)
        if action == "reset":
            cause = self.axes.fault_cause() or self.laser_cause()
            if cause is not None:
                raise CommandError(ErrorCode.INTERLOCK, f"cause still present: {cause}")

    # ---- actions (each awaits one trigger; the on_enter callbacks do the work) --------------

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

    async def act_profile(self, cmd: Command, args: ProfileArgs) -> None:
        profiler = self._profiler()
        self.target = {"z_m": args.z_to_m, "unit": self.axes.current}
        await self.trigger("profile", cmd=cmd, args=args)
        if profiler.error is not None and self.state != "FAULT":
            raise profiler.error
        self.raise_outcome({"AT_POSITION"})

    async def act_retract(self, cmd: Command, args: Any) -> None:
        self.target = {"z_m": self.cfg.z_park_m, "unit": self.axes.current}
        await self.run_trigger("retract", {"PARKED"})

    # ---- state callbacks ---------------------------------------------------------------------

    async def on_enter_HOMING(self, event: Any) -> None:  # noqa: N802 - transitions naming
        await self.guarded("homed", self.motion.home())

    async def on_enter_SELECTING(self, event: Any) -> None:  # noqa: N802
        await self.guarded("selected", self.motion.select(event.kwargs["unit"]))

    async def on_enter_DEPLOYING(self, event: Any) -> None:  # noqa: N802
        kw = event.kwargs
        await self.guarded("arrived", self.motion.deploy(kw["unit"], kw["z_m"]))

    async def on_enter_MOVING(self, event: Any) -> None:  # noqa: N802
        await self.guarded("arrived", self.motion.move(event.kwargs["z_m"]))

    async def on_enter_PROFILING(self, event: Any) -> None:  # noqa: N802
        profiler, kw = self._profiler(), event.kwargs
        sensor = self.source_id(profiler.tcfg.unit)
        await self.guarded("profiled", profiler.profile(kw["cmd"], kw["args"], sensor))

    async def on_enter_RETRACTING(self, event: Any) -> None:  # noqa: N802
        await self.guarded("parked", self.motion.retract())

    # ---- poll --------------------------------------------------------------------------------

    # ---- presence (for the interlock board) --------------------------------------------------

    def _axis_cable(self, z_m: float) -> Segment:
        return ((0.0, 0.0, self.cfg.z_valve_m), (0.0, 0.0, z_m))

    def cables(self) -> tuple[Segment, ...]:
        """Every unit off its home switch hangs on the central axis (to z_min when unknown)."""
        out = []
        for name, u in self.axes.units.items():
            if not u.parked:
                z = self.axes.z_m(name)
                out.append(self._axis_cable(self.cfg.z_min_m if z is None else z))
        return tuple(out)

    def cables_for(self, action: str, args: Any) -> tuple[Segment, ...]:
        if action in {"deploy", "move"}:
            return (self._axis_cable(args.z_m),)
        if action == "profile":
            return (self._axis_cable(min(args.z_from_m, args.z_to_m)),)
        return ()

    def is_deployed(self) -> bool:
        return not self.axes.all_parked()

    def present_source(self) -> str | None:
        unit = self.axes.current
        return self.source_id(unit) if unit else None

    def status_fields(self) -> dict[str, Any]:
        unit = self.axes.current
        z = self.axes.z_m(unit) if unit is not None else None
        return {
            "homed": self.axes.homed,
            "deployed": self.is_deployed(),
            "source": self.present_source(),
            "position": {"z_m": None if z is None else round(z, 5), "unit": unit},
            "target": self.target,
            "unit_positions": self.axes.unit_summary(self.source_id),
            **({} if self.profiler is None else {"profile": self.profiler.status()}),
            **self.laser_status(),
        }
