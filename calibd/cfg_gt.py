"""Configuration of the Guide Tube (`[gt]`): tube geometry, the pull-pull spool pair, limits."""

from __future__ import annotations

import itertools
import math
from typing import Self

from pydantic import Field, model_validator

from calibd.cfgbase import ModbusDeviceCfg, SerialDeviceCfg, Strict


class GtTubeCfg(Strict):
    """The half-loop of PTFE tube on the outside of the acrylic sphere (one meridian)."""

    radius_m: float = Field(17.836, gt=0, le=30)
    #: where the top lead-in tube joins the sphere tube (also the garage end stop)
    theta_start_deg: float = Field(2.0, ge=0, lt=90)
    #: where the bottom lead-in tube joins (the far end stop)
    theta_end_deg: float = Field(178.0, gt=90, le=180)
    #: cable path from the top spool's reference mark to the tube at theta_start_deg
    lead_top_m: float = Field(3.0, ge=0)
    #: cable path from the tube at theta_end_deg to the bottom spool's reference mark
    lead_bottom_m: float = Field(3.0, ge=0)
    #: cable-on-PTFE friction coefficient (capstan: tension grows as e^(mu * wrap angle))
    friction_mu: float = Field(0.1, ge=0, le=1)


class GtSpoolCfg(Strict):
    """One spool design for both ends: a single-layer (grooved) drum, cable, dancer, load cell.

    Single layer on purpose: metres per revolution stay constant, so two proportional
    trapezoidal moves keep the pull-pull pair length-synchronous all the way."""

    drum_radius_m: float = Field(gt=0, le=1)
    cable_diameter_m: float = Field(gt=0, le=0.02)
    turns_per_layer: int = Field(ge=1)
    cable_length_m: float = Field(gt=0)
    counts_per_rev: int = Field(ge=1)
    cable_ea_n: float = Field(gt=0)
    #: spring rate of the dancer (tensioner) between the spool and the tube: stroke = T / rate
    tensioner_n_m: float = Field(gt=0)
    load_cell_range_n: float = Field(gt=0)

    @property
    def metres_per_rev(self) -> float:
        return 2 * math.pi * (self.drum_radius_m + self.cable_diameter_m / 2)

    @model_validator(mode="after")
    def _single_layer(self) -> Self:
        if self.cable_length_m > self.turns_per_layer * self.metres_per_rev:
            raise ValueError("the GT drums are single-layer: cable_length_m must fit in one layer")
        return self


class GtAxisCfg(Strict):
    drive: ModbusDeviceCfg
    load_cell: SerialDeviceCfg


class GtSimCfg(Strict):
    """Simulator-only physics the daemon does not model (calibd ignores this block)."""

    car_friction_n: float = Field(0.2, ge=0)


class GtCfg(Strict):
    #: the GT is in the water pool, outside the calibration house: no gate valve
    valve: str | None = None
    poll_fast_hz: float = Field(50.0, ge=1, le=500)
    poll_idle_s: float = Field(0.5, gt=0, le=5)
    theta_park_deg: float = 2.5
    theta_min_deg: float = 3.0
    theta_max_deg: float = 177.0
    #: tension at the car on its bottom side, the set point of every move
    pretension_n: float = Field(20.0, gt=0)
    #: apparent (wet) weight of the car with its source
    car_weight_n: float = Field(1.5, ge=0)
    speed_m_s: float = Field(0.05, gt=0, le=1.0)
    accel_m_s2: float = Field(0.05, gt=0)
    home_speed_m_s: float = Field(0.02, gt=0, le=1.0)
    #: along the tube (arc length)
    position_tolerance_m: float = Field(0.003, gt=0, le=0.02)
    snag_factor: float = Field(2.5, gt=1)
    slack_factor: float = Field(0.4, gt=0, lt=1)
    tension_floor_n: float = Field(3.0, ge=0)
    move_margin_s: float = Field(5.0, ge=0)
    tube: GtTubeCfg = GtTubeCfg()
    spool: GtSpoolCfg
    top: GtAxisCfg
    bottom: GtAxisCfg
    sim: GtSimCfg = GtSimCfg()

    @model_validator(mode="after")
    def _geometry(self) -> Self:
        t = self.tube
        order = (
            t.theta_start_deg,
            self.theta_park_deg,
            self.theta_min_deg,
            self.theta_max_deg,
            t.theta_end_deg,
        )
        if not all(a < b for a, b in itertools.pairwise(order)):
            raise ValueError(
                "need tube.theta_start_deg < theta_park_deg < theta_min_deg < theta_max_deg"
                " < tube.theta_end_deg"
            )
        travel_m = math.radians(t.theta_end_deg - self.theta_park_deg) * t.radius_m
        need_m = travel_m + max(t.lead_top_m, t.lead_bottom_m) + 1.0
        if self.spool.cable_length_m < need_m:
            raise ValueError(f"spool.cable_length_m must be >= {need_m:.1f} m (travel + lead-in)")
        if self.top.drive.endpoint == self.bottom.drive.endpoint and (
            self.top.drive.device_id == self.bottom.drive.device_id
        ):
            raise ValueError("top and bottom drives share a device id")
        return self

    def endpoints(self) -> list[str]:
        """Every hardware endpoint of the system."""
        return [
            self.top.drive.endpoint,
            self.top.load_cell.endpoint,
            self.bottom.drive.endpoint,
            self.bottom.load_cell.endpoint,
        ]
