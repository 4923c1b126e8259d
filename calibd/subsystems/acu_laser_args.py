"""The ACU laser's actions as data: argument models, where each action is allowed, the argument
ranges (`out_of_range`), and the emission condition (row `laser_emission`) as a pure function
of where the ACU is."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Self

from pydantic import Field, model_validator

from calibd.cfg_laser import LaserCfg
from calibd.core.actions import ActionSpec
from calibd.core.commands import Args, NoArgs
from calibd.core.errors import CommandError, ErrorCode, Trip
from drivers.laser import LaserStatus

#: rounding margin on the intensity range (JSON round trips, 1e-4 written as 0.0001)
_REL = 1e-9


class LaserOnArgs(Args):
    intensity: float = Field(description="relative transmission of the attenuator, 1e-4 .. 1")
    rate_hz: float | None = Field(None, description="pulse rate (default: rate_default_hz)")


class LaserScanArgs(Args):
    intensities: list[float] = Field(min_length=1, description="one intensity per step")
    dwell_s: float | list[float] = Field(description="seconds per step (one, or one per step)")
    rate_hz: float | None = None

    @model_validator(mode="after")
    def _one_dwell_per_step(self) -> Self:
        if isinstance(self.dwell_s, list) and len(self.dwell_s) != len(self.intensities):
            raise ValueError(
                f"dwell_s: {len(self.dwell_s)} dwells for {len(self.intensities)} intensities"
            )
        return self

    def dwells(self) -> list[float]:
        """The dwell of each step."""
        d = self.dwell_s
        return list(d) if isinstance(d, list) else [d] * len(self.intensities)


LASER_ACTIONS = ("laser_on", "laser_off", "laser_scan")
#: motion commands that switch emission off before they start (a `move` only with
#: require_still; `stop` ends a scan and switches it off without delaying the halt)
OFF_BEFORE = frozenset({"home", "select", "deploy", "move", "profile", "retract"})


def laser_actions(states: Iterable[str]) -> dict[str, ActionSpec]:
    """`laser_on` where the ACU stands (and in MOVING: refused by `check` with require_still),
    `laser_off` in every state, `laser_scan` (a command that occupies the ACU) where it stands."""
    standing = frozenset({"AT_POSITION", "STOPPED"})
    return {
        "laser_on": ActionSpec(LaserOnArgs, standing | {"MOVING"}, motion=False),
        "laser_off": ActionSpec(NoArgs, frozenset(states), motion=False),
        "laser_scan": ActionSpec(LaserScanArgs, standing),
    }


@dataclass(frozen=True)
class Emission:
    """An open emission interval (a `laser` event `started` carries these fields)."""

    rate_hz: float
    intensity: float
    started: str
    command: str | None
    unit: str
    source: str | None


def sig(value: float) -> float:
    """Six significant digits (read-back values: no float noise in status and events)."""
    return float(f"{value:.6g}")


@dataclass(frozen=True)
class Site:
    """Where the ACU and the laser's unit are, as the emission condition needs it."""

    state: str
    unit: str | None  # the unit under the port
    z_m: float | None  # the laser unit's diffuser (None: unknown)
    valve: str  # its gate valve: open, closed, moving, fault, unknown
    moving: bool  # any ACU drive moves, or a motion runs
    latched: str | None  # the ACU's latched fault code


def blocker(cfg: LaserCfg, z_emit_max_m: float, site: Site) -> str | None:
    """Why emission is not permitted now (None: it is); row `laser_emission`."""
    if site.latched is not None:
        return f"the ACU is latched in FAULT ({site.latched}): reset first"
    standing = {"AT_POSITION", "STOPPED"} | (set() if cfg.require_still else {"MOVING"})
    if site.state not in standing:
        return f"the ACU is {site.state}"
    if site.unit != cfg.unit:
        return f"the laser's unit {cfg.unit} is not under the port (unit {site.unit})"
    if site.z_m is None or site.z_m > z_emit_max_m:
        where = "unknown" if site.z_m is None else f"z = {site.z_m:.3f} m"
        return f"the diffuser ({where}) is not deployed below z = {z_emit_max_m:g} m"
    if site.valve != "open":
        return f"the gate valve is {site.valve}, not open"
    if cfg.require_still and site.moving:
        return "the ACU is moving (require_still)"
    return None


def laser_trip(cfg: LaserCfg, st: LaserStatus | None, lost: str | None) -> Trip | None:
    """The laser trip the latest readings show (None: none); rows laser_comm_loss,
    laser_interlock, laser_overtemp, laser_fault."""
    if lost is not None:
        return Trip("laser_comm_loss", f"laser controller: {lost}", axis="laser")
    if st is None:
        return None
    if "interlock" in st.faults:
        msg = "the laser's interlock loop is open (head cover, fibre connector)"
        return Trip("laser_interlock", msg, error=ErrorCode.INTERLOCK, axis="laser")
    if "overtemp" in st.faults or st.head_temp_c >= cfg.head_temp_max_c:
        msg = f"laser head {st.head_temp_c:.2f} C (limit {cfg.head_temp_max_c:g} C)"
        return Trip("laser_overtemp", msg, axis="laser")
    if st.faults:
        return Trip("laser_fault", f"laser controller fault: {', '.join(st.faults)}", axis="laser")
    return None


def check_laser_args(cfg: LaserCfg, action: str, args: Any) -> None:
    """Argument values against [acu.laser] (`out_of_range`), whatever the state."""
    rate = getattr(args, "rate_hz", None)
    if rate is not None and not cfg.rate_min_hz <= rate <= cfg.rate_max_hz:
        raise CommandError(
            ErrorCode.OUT_OF_RANGE,
            f"rate_hz {rate} outside [{cfg.rate_min_hz:g}, {cfg.rate_max_hz:g}]",
        )
    if action == "laser_on":
        _intensity(cfg, args.intensity)
    if action == "laser_scan":
        if len(args.intensities) > cfg.scan_steps_max:
            raise CommandError(
                ErrorCode.OUT_OF_RANGE,
                f"{len(args.intensities)} steps; at most {cfg.scan_steps_max}",
            )
        for value in args.intensities:
            _intensity(cfg, value)
        for dwell in args.dwells():
            if not 0 < dwell <= cfg.dwell_max_s:
                raise CommandError(
                    ErrorCode.OUT_OF_RANGE, f"dwell_s {dwell} outside (0, {cfg.dwell_max_s:g}]"
                )


def _intensity(cfg: LaserCfg, value: float) -> None:
    lo, hi = cfg.intensity_min * (1 - _REL), cfg.intensity_max * (1 + _REL)
    if not lo <= value <= hi:
        raise CommandError(
            ErrorCode.OUT_OF_RANGE,
            f"intensity {value:g} outside [{cfg.intensity_min:g}, {cfg.intensity_max:g}]"
            " (relative transmission)",
        )
