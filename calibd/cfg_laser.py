"""`[acu.laser]`: the pulsed UV laser on one ACU unit (docs/hardware.md §8, docs/mqtt-api.md)."""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator

from calibd.cfgbase import SerialDeviceCfg

#: the attenuator's range: relative transmission 1e-4 .. 1 (four orders of magnitude)
INTENSITY_FLOOR = 1e-4


class LaserCfg(SerialDeviceCfg):
    """The laser controller (its serial endpoint and address) and the rules of emission."""

    unit: str = Field(pattern=r"^[A-Z]$", description="the ACU unit carrying the diffuser ball")
    rate_min_hz: float = Field(1.0, ge=0.1, le=10_000, description="lowest pulse rate accepted")
    rate_max_hz: float = Field(1000.0, ge=0.1, le=10_000, description="highest pulse rate")
    rate_default_hz: float = Field(
        100.0, ge=0.1, le=10_000, description="pulse rate when a command or program gives none"
    )
    intensity_min: float = Field(
        INTENSITY_FLOOR,
        ge=INTENSITY_FLOOR,
        le=1.0,
        description="lowest intensity (relative transmission of the attenuator) accepted",
    )
    intensity_max: float = Field(1.0, ge=INTENSITY_FLOOR, le=1.0, description="highest intensity")
    require_still: bool = Field(
        True,
        description="emission only while nothing of the ACU moves (false: also during `move`)",
    )
    z_emit_max_m: float | None = Field(
        None,
        description="emission only with the diffuser at or below this height (default: the"
        " ACU's z_max_m, i.e. out of the chimney, in the detector)",
    )
    head_temp_max_c: float = Field(
        40.0, gt=0, le=80, description="head temperature that trips `laser_overtemp`"
    )
    poll_s: float = Field(0.1, gt=0, le=2.0, description="status poll period of the controller")
    dwell_max_s: float = Field(
        7200.0, gt=0, le=86_400, description="longest dwell of one `laser_scan` step"
    )
    scan_steps_max: int = Field(64, ge=1, le=1000, description="most steps of one `laser_scan`")

    @model_validator(mode="after")
    def _ranges(self) -> Self:
        if not self.rate_min_hz <= self.rate_default_hz <= self.rate_max_hz:
            raise ValueError("need rate_min_hz <= rate_default_hz <= rate_max_hz")
        if self.intensity_min > self.intensity_max:
            raise ValueError("need intensity_min <= intensity_max")
        return self
