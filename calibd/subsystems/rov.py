"""ROV: a tethered vehicle with thrusters, an umbilical winch in the house, ultrasonic position.

The FSM table below is the whole behaviour; `on_enter_*` callbacks carry the long actions
(`rov_motion.py`), the poll loop reads the hardware, steers the vehicle and watches it
(`rov_plant.py`), the navigation and umbilical maths are pure (`rov_nav.py`).
"""

from __future__ import annotations

from typing import Any

from calibd.cfg_rov import RovCfg
from calibd.core.commands import Args, Command, NoArgs
from calibd.core.deployment import DeploymentSystem
from calibd.core.deployment_actions import action_table
from calibd.core.errors import CommandError, ErrorCode, Trip
from calibd.core.fsm import attach
from calibd.core.outbox import Outbox
from calibd.core.presence import Point, Segment
from calibd.core.valves import ValveControl
from calibd.subsystems.rov_motion import RovMotion
from calibd.subsystems.rov_nav import Vec, check_target
from calibd.subsystems.rov_plant import RovPlant

STATES = [
    "UNKNOWN",
    "HOMING",
    "PARKED",
    "LAUNCHING",
    "NAVIGATING",
    "HOLDING",
    "RETURNING",
    "RECOVERING",
    "STOPPED",
    "FAULT",
]
MOTION_STATES = frozenset({"HOMING", "LAUNCHING", "NAVIGATING", "RETURNING", "RECOVERING"})
OUT_STATES = ["LAUNCHING", "NAVIGATING", "HOLDING", "RETURNING", "RECOVERING"]
_NOT_FAULT = [s for s in STATES if s != "FAULT"]

TRANSITIONS: list[dict[str, Any]] = [
    {"trigger": "home", "source": ["UNKNOWN", "PARKED", "STOPPED"], "dest": "HOMING"},
    {"trigger": "homed", "source": "HOMING", "dest": "PARKED"},
    {"trigger": "deploy", "source": ["PARKED", "STOPPED"], "dest": "LAUNCHING"},
    {"trigger": "launched", "source": "LAUNCHING", "dest": "NAVIGATING"},
    {"trigger": "move", "source": ["HOLDING", "STOPPED"], "dest": "NAVIGATING"},
    {"trigger": "arrived", "source": "NAVIGATING", "dest": "HOLDING"},
    {"trigger": "retract", "source": ["HOLDING", "STOPPED"], "dest": "RETURNING"},
    {"trigger": "returned", "source": "RETURNING", "dest": "RECOVERING"},
    {"trigger": "parked", "source": "RECOVERING", "dest": "PARKED"},
    {"trigger": "stop", "source": "HOMING", "dest": "UNKNOWN"},
    {"trigger": "stop", "source": OUT_STATES, "dest": "STOPPED"},
    {"trigger": "fault", "source": _NOT_FAULT, "dest": "FAULT"},
    {"trigger": "reset", "source": "FAULT", "dest": "UNKNOWN", "unless": "is_homed"},
    {"trigger": "reset", "source": "FAULT", "dest": "PARKED", "conditions": "is_stowed"},
    {"trigger": "reset", "source": "FAULT", "dest": "STOPPED"},
    # `retract` out of a position_mismatch (restart recovery): slowly onto the home switches
    {"trigger": "recover", "source": "FAULT", "dest": "HOMING"},
]


class TargetArgs(Args):
    x_m: float
    y_m: float
    z_m: float

    @property
    def point(self) -> Vec:
        return (self.x_m, self.y_m, self.z_m)


class Rov(DeploymentSystem):
    STATES = STATES
    TRANSITIONS = TRANSITIONS
    MOTION_STATES = MOTION_STATES
    ACTIONS = action_table(
        STATES,
        TRANSITIONS,
        {
            "home": NoArgs,
            "deploy": TargetArgs,
            "move": TargetArgs,
            "retract": NoArgs,
        },
    )

    def __init__(
        self,
        cfg: RovCfg,
        plant: RovPlant,
        valves: ValveControl,
        outbox: Outbox,
        *,
        time_scale: float = 1.0,
    ) -> None:
        super().__init__(
            "rov",
            outbox,
            plant,
            poll_fast_hz=cfg.poll_fast_hz,
            poll_idle_s=cfg.poll_idle_s,
            time_scale=time_scale,
        )
        self.cfg = cfg
        self.plant = plant
        self.valves = valves
        self.motion = RovMotion(cfg, plant, valves, time_scale=time_scale)
        attach(self, STATES, TRANSITIONS, "UNKNOWN")

    # ---- conditions (pure, on cached readings) ---------------------------------------------

    def is_stowed(self, event: Any = None) -> bool:
        return self.plant.parked and self.valves.valve(self.cfg.valve) == "closed"

    # ---- validation before anything moves --------------------------------------------------

    def check_args(self, action: str, args: Any) -> None:
        if action in {"deploy", "move"}:
            why = check_target(self.cfg, args.point)
            if why is not None:
                raise CommandError(ErrorCode.OUT_OF_RANGE, why)

    def check(self, action: str, args: Any) -> None:
        p = self.plant
        if action == "deploy" and not (p.parked and p.homed):
            raise CommandError(
                ErrorCode.INVALID_STATE, "the vehicle is not parked: retract (or move) it"
            )
        if action == "move" and not p.has_fix():
            raise CommandError(
                ErrorCode.INVALID_STATE, "the vehicle is not out in the sphere: deploy it"
            )
        # (out of FAULT, `retract` is the recovery: it homes the winch, referencing it)
        if action == "retract" and not p.homed and self.state != "FAULT":
            raise CommandError(ErrorCode.INVALID_STATE, "the winch is not referenced: home")
        if action == "reset":
            cause = p.fault_cause()
            if cause is not None:
                raise CommandError(ErrorCode.INTERLOCK, f"cause still present: {cause}")

    # ---- actions (each awaits one trigger; the on_enter callbacks do the work) --------------

    async def act_home(self, cmd: Command, args: Any) -> None:
        self.target = None
        await self.run_trigger("home", {"PARKED"})

    async def act_deploy(self, cmd: Command, args: TargetArgs) -> None:
        self.target = args.point
        await self.run_trigger("deploy", {"HOLDING"}, target=args.point)

    async def act_move(self, cmd: Command, args: TargetArgs) -> None:
        self.target = args.point
        await self.run_trigger("move", {"HOLDING"}, target=args.point)

    async def act_retract(self, cmd: Command, args: Any) -> None:
        self.target = self.motion.launch_point
        await self.run_trigger("retract", {"PARKED"})

    def reset_cause(self) -> Trip | None:
        """Judged on `violation()`: the plant's check_protections debounces tension trips over
        several polls and must not count a reset's judgement as one; a lost device is the
        submit-time check's business."""
        still = self.plant.violation()
        return None if still is None or still.code == "comm_loss" else still

    # ---- state callbacks ---------------------------------------------------------------------

    async def on_enter_HOMING(self, event: Any) -> None:  # noqa: N802 - transitions naming
        await self.guarded("homed", self.motion.home())

    async def on_enter_LAUNCHING(self, event: Any) -> None:  # noqa: N802
        target = event.kwargs["target"]
        await self.guarded("launched", self.motion.launch(), target=target)

    async def on_enter_NAVIGATING(self, event: Any) -> None:  # noqa: N802
        await self.guarded("arrived", self.motion.navigate(event.kwargs["target"]))

    async def on_enter_RETURNING(self, event: Any) -> None:  # noqa: N802
        await self.guarded("returned", self.motion.return_to_launch())

    async def on_enter_RECOVERING(self, event: Any) -> None:  # noqa: N802
        await self.guarded("parked", self.motion.recover())

    async def on_enter_STOPPED(self, event: Any) -> None:  # noqa: N802
        if event.event.name == "stop":
            await self.plant.stop_in_place()

    # ---- poll --------------------------------------------------------------------------------

    def poll_fast(self) -> bool:
        """Fast whenever the thrusters may be on: the vehicle needs a heartbeat every poll."""
        return self.busy() or self.plant.thrusters or self.state == "HOLDING"

    # ---- presence (for the interlock board) --------------------------------------------------

    def point(self) -> Point | None:
        return None if self.plant.parked else self.plant.position()

    def cables_for(self, action: str, args: Any) -> tuple[Segment, ...]:
        """The vehicle's straight path to the target (from the launch point when parked)."""
        if action not in {"deploy", "move"}:
            return ()
        here = self.point() if action == "move" else None
        start = here if here is not None else (0.0, 0.0, self.cfg.z_launch_m)
        return ((start, args.point),)

    def is_deployed(self) -> bool:
        return not self.plant.parked

    def present_source(self) -> str | None:
        return self.source_id()

    def status_fields(self) -> dict[str, Any]:
        p = self.plant
        pos = p.position()
        vs = p.vstatus
        paid = p.paid_out_m()
        return {
            "homed": p.homed,
            "deployed": self.is_deployed(),
            "source": self.present_source(),
            "position": {
                "x_m": None if pos is None else round(pos[0], 4),
                "y_m": None if pos is None else round(pos[1], 4),
                "z_m": None if pos is None else round(pos[2], 4),
            },
            "target": None
            if self.target is None
            else {"x_m": self.target[0], "y_m": self.target[1], "z_m": self.target[2]},
            "uss_fix": p.has_fix(),
            "thrusters_on": None if vs is None else vs.thrusters_on,
            "umbilical": {
                "paid_out_m": None if paid is None else round(paid, 4),
                "tension_n": None if p.winch.tension_n is None else round(p.winch.tension_n, 3),
            },
        }
