"""CLS: a Cable Loop System (cls1, cls2) — a source at the junction of a central cable (down
the chimney) and a side cable (over an anchor pulley on the acrylic wall), in one half of a
vertical plane.

The FSM table below is the whole behaviour; `on_enter_*` callbacks carry the long actions
(`cls_motion.py`), the poll loop watches both spools and cross-checks the ultrasonic fix.
"""

from __future__ import annotations

from typing import Any

from calibd.cfg_cls import ClsCfg
from calibd.core.commands import Args, Command, NoArgs
from calibd.core.deployment import DeploymentSystem
from calibd.core.deployment_actions import action_table
from calibd.core.errors import CommandError, ErrorCode
from calibd.core.fsm import attach
from calibd.core.outbox import Outbox
from calibd.core.presence import Segment
from calibd.core.valves import ValveControl
from calibd.subsystems.cls_axes import ClsAxes
from calibd.subsystems.cls_motion import ClsMotion

STATES = [
    "UNKNOWN",
    "HOMING",
    "PARKED",
    "DEPLOYING",
    "MOVING",
    "AT_POSITION",
    "RETRACTING",
    "STOPPED",
    "FAULT",
]
MOTION_STATES = frozenset({"HOMING", "DEPLOYING", "MOVING", "RETRACTING"})
_NOT_FAULT = [s for s in STATES if s != "FAULT"]

TRANSITIONS: list[dict[str, Any]] = [
    {"trigger": "home", "source": ["UNKNOWN", "PARKED", "STOPPED"], "dest": "HOMING"},
    {"trigger": "homed", "source": "HOMING", "dest": "PARKED"},
    {"trigger": "deploy", "source": ["PARKED", "STOPPED"], "dest": "DEPLOYING"},
    {"trigger": "arrived", "source": ["DEPLOYING", "MOVING"], "dest": "AT_POSITION"},
    {"trigger": "move", "source": ["AT_POSITION", "STOPPED"], "dest": "MOVING"},
    {"trigger": "retract", "source": ["AT_POSITION", "STOPPED"], "dest": "RETRACTING"},
    {"trigger": "parked", "source": "RETRACTING", "dest": "PARKED"},
    {"trigger": "stop", "source": "HOMING", "dest": "UNKNOWN"},
    {"trigger": "stop", "source": ["DEPLOYING", "MOVING", "RETRACTING"], "dest": "STOPPED"},
    {"trigger": "fault", "source": _NOT_FAULT, "dest": "FAULT"},
    {"trigger": "reset", "source": "FAULT", "dest": "UNKNOWN", "unless": "is_homed"},
    {"trigger": "reset", "source": "FAULT", "dest": "PARKED", "conditions": "is_stowed"},
    {"trigger": "reset", "source": "FAULT", "dest": "STOPPED"},
    # `retract` out of a position_mismatch (restart recovery): slowly onto the home switches
    {"trigger": "recover", "source": "FAULT", "dest": "HOMING"},
]


class PointArgs(Args):
    x_m: float
    z_m: float


class Cls(DeploymentSystem):
    STATES = STATES
    TRANSITIONS = TRANSITIONS
    MOTION_STATES = MOTION_STATES
    ACTIONS = action_table(
        STATES,
        TRANSITIONS,
        {
            "home": NoArgs,
            "deploy": PointArgs,
            "move": PointArgs,
            "retract": NoArgs,
        },
    )

    def __init__(
        self,
        name: str,
        cfg: ClsCfg,
        axes: ClsAxes,
        valves: ValveControl,
        outbox: Outbox,
        *,
        time_scale: float = 1.0,
    ) -> None:
        super().__init__(
            name,
            outbox,
            axes,
            poll_fast_hz=cfg.poll_fast_hz,
            poll_idle_s=cfg.poll_idle_s,
            time_scale=time_scale,
        )
        self.cfg = cfg
        self.axes = axes
        self.model = axes.model
        self.valves = valves
        self.motion = ClsMotion(name, cfg, axes, valves)
        attach(self, STATES, TRANSITIONS, "UNKNOWN")

    # ---- conditions (pure, on cached readings) ---------------------------------------------

    def is_stowed(self, event: Any = None) -> bool:
        return self.axes.all_parked() and self.valves.valve(self.cfg.valve) == "closed"

    # ---- validation before anything moves --------------------------------------------------

    def check_args(self, action: str, args: Any) -> None:
        if action in {"deploy", "move"}:
            why = self.model.check_point(args.x_m, args.z_m)
            if why is not None:
                raise CommandError(ErrorCode.OUT_OF_RANGE, why)

    def check(self, action: str, args: Any) -> None:
        pose = self.axes.pose
        if action == "deploy":
            if self.state == "STOPPED" and not self.axes.all_parked():
                raise CommandError(ErrorCode.INVALID_STATE, "the source is out: retract it first")
            try:
                plan = self.model.plan(self.model.exit_point(), (args.x_m, args.z_m))
            except ArithmeticError as exc:
                plan = f"no path from the chimney exit: {exc}"
            if isinstance(plan, str):
                raise CommandError(ErrorCode.OUT_OF_RANGE, plan)
        if action == "move":
            if pose is None or pose.in_chimney:
                raise CommandError(
                    ErrorCode.INVALID_STATE, "the source is not in the detector: deploy first"
                )
            why = self.model.check_path((pose.x_m, pose.z_m), (args.x_m, args.z_m))
            if why is not None:
                raise CommandError(ErrorCode.OUT_OF_RANGE, why)
        if action == "reset":
            cause = self.axes.fault_cause()
            if cause is not None:
                raise CommandError(ErrorCode.INTERLOCK, f"cause still present: {cause}")

    # ---- actions (each awaits one trigger; the on_enter callbacks do the work) --------------

    async def act_home(self, cmd: Command, args: Any) -> None:
        self.target = None
        await self.run_trigger("home", {"PARKED"})

    async def act_deploy(self, cmd: Command, args: PointArgs) -> None:
        self.target = {"x_m": args.x_m, "z_m": args.z_m}
        await self.run_trigger("deploy", {"AT_POSITION"}, x_m=args.x_m, z_m=args.z_m)

    async def act_move(self, cmd: Command, args: PointArgs) -> None:
        self.target = {"x_m": args.x_m, "z_m": args.z_m}
        await self.run_trigger("move", {"AT_POSITION"}, x_m=args.x_m, z_m=args.z_m)

    async def act_retract(self, cmd: Command, args: Any) -> None:
        self.target = {"x_m": 0.0, "z_m": self.cfg.z_park_m}
        await self.run_trigger("retract", {"PARKED"})

    # ---- state callbacks ---------------------------------------------------------------------

    async def on_enter_HOMING(self, event: Any) -> None:  # noqa: N802 - transitions naming
        await self.guarded("homed", self.motion.home())

    async def on_enter_DEPLOYING(self, event: Any) -> None:  # noqa: N802
        kw = event.kwargs
        await self.guarded("arrived", self.motion.deploy(kw["x_m"], kw["z_m"]))

    async def on_enter_MOVING(self, event: Any) -> None:  # noqa: N802
        kw = event.kwargs
        await self.guarded("arrived", self.motion.move(kw["x_m"], kw["z_m"]))

    async def on_enter_RETRACTING(self, event: Any) -> None:  # noqa: N802
        await self.guarded("parked", self.motion.retract())

    # ---- poll --------------------------------------------------------------------------------

    def after_poll(self) -> None:
        """Warning interlock while the USS fix and the cable model disagree."""
        if self.axes.uss is None:
            return
        self.warn("uss_lost", self.axes.uss_error is not None, f"USS: {self.axes.uss_error}")
        d = self.axes.uss_disagreement_m()
        if d is None:
            return
        tol = self.cfg.uss_tolerance_m
        self.warn(
            "uss_mismatch",
            d > tol,
            f"USS fix and cable model differ by {d * 100:.1f} cm (> {tol * 100:.0f} cm)",
        )

    # ---- presence (for the interlock board) --------------------------------------------------

    def _cables_to(self, x_m: float, z_m: float) -> tuple[Segment, ...]:
        """Chimney, central cable and side cable to a source at (x, z), as straight lines in
        the CLS plane (y = 0); the sag is well inside the ROV keep-out margin."""
        # the chimney exit from the configuration, not from the cable model: solving the model
        # here would move its warm start away from the source's branch
        loop = self.model.loop
        exit_ = (0.0, 0.0, self.cfg.chimney_exit_z_m)
        src = (x_m, 0.0, z_m)
        return (
            ((0.0, 0.0, self.cfg.z_valve_m), exit_),
            (exit_, src),
            ((loop.a_x, 0.0, loop.a_z), src),
        )

    def cables(self) -> tuple[Segment, ...]:
        pose = self.axes.pose
        if pose is None:  # unknown: anywhere down to the bottom of the sphere
            return self._cables_to(0.0, -self.cfg.sphere_radius_m)
        return self._cables_to(pose.x_m, pose.z_m)

    def cables_for(self, action: str, args: Any) -> tuple[Segment, ...]:
        if action in {"deploy", "move"}:
            return self._cables_to(args.x_m, args.z_m)
        return ()

    def is_deployed(self) -> bool:
        return not self.axes.all_parked()

    def present_source(self) -> str | None:
        return self.source_id()

    def status_fields(self) -> dict[str, Any]:
        pose = self.axes.pose
        fix = self.axes.fix
        return {
            "homed": self.axes.homed,
            "deployed": self.is_deployed(),
            "source": self.present_source(),
            "position": {
                "x_m": None if pose is None else round(pose.x_m, 5),
                "z_m": None if pose is None else round(pose.z_m, 5),
            },
            "target": self.target,
            "in_chimney": None if pose is None else pose.in_chimney,
            "uss": None if fix is None or not fix.ok else {"x_m": fix.x_m, "z_m": fix.z_m},
        }
