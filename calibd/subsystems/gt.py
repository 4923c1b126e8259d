"""GT: the Guide Tube, a source car pulled along a PTFE tube on the outside of the acrylic
sphere by one cable and two spools (pull-pull).

The FSM table below is the whole behaviour; `on_enter_*` callbacks carry the long actions
(`gt_motion.py`), the poll loop watches both spools (`gt_axes.py`), the kinematics are pure
(`gt_model.py`).
"""

from __future__ import annotations

import math
from typing import Any

from calibd.cfg_gt import GtCfg
from calibd.core.commands import Args, Command, NoArgs
from calibd.core.deployment import DeploymentSystem
from calibd.core.deployment_actions import action_table
from calibd.core.errors import CommandError, ErrorCode
from calibd.core.fsm import attach
from calibd.core.outbox import Outbox
from calibd.core.valves import ValveControl
from calibd.subsystems.gt_axes import GtAxes
from calibd.subsystems.gt_motion import GtMotion

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


class ThetaArgs(Args):
    theta_deg: float


class Gt(DeploymentSystem):
    STATES = STATES
    TRANSITIONS = TRANSITIONS
    MOTION_STATES = MOTION_STATES
    ACTIONS = action_table(
        STATES,
        TRANSITIONS,
        {
            "home": NoArgs,
            "deploy": ThetaArgs,
            "move": ThetaArgs,
            "retract": NoArgs,
        },
    )

    def __init__(
        self,
        cfg: GtCfg,
        axes: GtAxes,
        valves: ValveControl,
        outbox: Outbox,
        *,
        name: str = "gt",
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
        self.valves = valves
        self.motion = GtMotion(cfg, axes, valves, time_scale=time_scale)
        attach(self, STATES, TRANSITIONS, "UNKNOWN")

    # ---- conditions (pure, on cached readings) ---------------------------------------------

    def is_stowed(self, event: Any = None) -> bool:
        valve_ok = self.cfg.valve is None or self.valves.valve(self.cfg.valve) == "closed"
        return self.axes.all_parked() and valve_ok

    # ---- validation before anything moves --------------------------------------------------

    def check_args(self, action: str, args: Any) -> None:
        if action in {"deploy", "move"}:
            lo, hi = self.cfg.theta_min_deg, self.cfg.theta_max_deg
            if not (math.isfinite(args.theta_deg) and lo <= args.theta_deg <= hi):
                raise CommandError(
                    ErrorCode.OUT_OF_RANGE, f"theta_deg {args.theta_deg} outside [{lo}, {hi}]"
                )

    def check(self, action: str, args: Any) -> None:
        if action == "deploy" and self.state == "STOPPED" and not self.axes.all_parked():
            raise CommandError(
                ErrorCode.INVALID_STATE, "the car is out: move or retract it instead"
            )
        if action == "reset":
            cause = self.axes.fault_cause()
            if cause is not None:
                raise CommandError(ErrorCode.INTERLOCK, f"cause still present: {cause}")

    # ---- actions (each awaits one trigger; the on_enter callbacks do the work) --------------

    async def act_home(self, cmd: Command, args: Any) -> None:
        self.target = None
        await self.run_trigger("home", {"PARKED"})

    async def act_deploy(self, cmd: Command, args: ThetaArgs) -> None:
        self.target = {"theta_deg": args.theta_deg}
        await self.run_trigger("deploy", {"AT_POSITION"}, theta_deg=args.theta_deg)

    async def act_move(self, cmd: Command, args: ThetaArgs) -> None:
        self.target = {"theta_deg": args.theta_deg}
        await self.run_trigger("move", {"AT_POSITION"}, theta_deg=args.theta_deg)

    async def act_retract(self, cmd: Command, args: Any) -> None:
        self.target = {"theta_deg": self.cfg.theta_park_deg}
        await self.run_trigger("retract", {"PARKED"})

    # ---- state callbacks ---------------------------------------------------------------------

    async def on_enter_HOMING(self, event: Any) -> None:  # noqa: N802 - transitions naming
        await self.guarded("homed", self.motion.home())

    async def on_enter_DEPLOYING(self, event: Any) -> None:  # noqa: N802
        await self.guarded("arrived", self.motion.deploy(event.kwargs["theta_deg"]))

    async def on_enter_MOVING(self, event: Any) -> None:  # noqa: N802
        await self.guarded("arrived", self.motion.move(event.kwargs["theta_deg"]))

    async def on_enter_RETRACTING(self, event: Any) -> None:  # noqa: N802
        await self.guarded("parked", self.motion.retract())

    # ---- poll --------------------------------------------------------------------------------

    def is_deployed(self) -> bool:
        return not self.axes.all_parked()

    def present_source(self) -> str | None:
        return self.source_id()

    def status_fields(self) -> dict[str, Any]:
        theta = self.axes.theta_deg()
        arc = None if theta is None else math.radians(theta) * self.cfg.tube.radius_m
        tensions = {n: self.axes[n].tension_n for n in ("top", "bottom")}
        return {
            "homed": self.axes.homed,
            "deployed": self.is_deployed(),
            "source": self.present_source(),
            "position": {"theta_deg": None if theta is None else round(theta, 5)},
            "target": self.target,
            "arc_m": None if arc is None else round(arc, 4),
            "tension_n": {n: None if t is None else round(t, 3) for n, t in tensions.items()},
        }
