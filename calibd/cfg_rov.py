"""Configuration of the ROV (docs/systems/rov.md)."""

from __future__ import annotations

import math
from typing import Self

from pydantic import Field, model_validator

from calibd.cfgbase import ModbusDeviceCfg, SerialDeviceCfg, SpoolCfg, Strict


class RovCfg(Strict):
    valve: str
    poll_fast_hz: float = Field(50.0, ge=1, le=500)
    poll_idle_s: float = Field(0.5, gt=0, le=5)
    z_park_m: float = Field(description="vehicle centre when parked (winch on its home switch)")
    z_valve_m: float
    z_liquid_m: float
    z_exit_m: float = Field(description="where the chimney opens into the sphere")
    z_launch_m: float = Field(description="launch/recovery point on the axis, below the exit")
    chimney_radius_m: float = Field(0.4, gt=0, le=2)
    body_length_m: float = Field(0.5, gt=0, le=2)
    sphere_radius_m: float = Field(17.7, gt=0)
    acrylic_clearance_m: float = Field(0.5, ge=0.5)
    winch_speed_m_s: float = Field(gt=0, le=1.0)
    winch_accel_m_s2: float = Field(gt=0)
    payout_speed_m_s: float = Field(0.3, gt=0, le=1.0, description="while navigating")
    home_speed_m_s: float = Field(gt=0, le=1.0)
    slack_margin_m: float = Field(1.0, gt=0, le=10)
    speed_max_m_s: float = Field(0.2, gt=0, le=0.5)
    nav_gain_per_s: float = Field(0.4, gt=0, le=5)
    position_tolerance_m: float = Field(0.02, gt=0, le=0.05)
    settle_s: float = Field(3.0, ge=0, description="simulated/physical seconds within tolerance")
    heartbeat_timeout_s: float = Field(0.5, gt=0, le=10)
    move_margin_s: float = Field(5.0, ge=0)
    snag_factor: float = Field(3.0, gt=1)
    slack_factor: float = Field(0.4, gt=0, lt=1)
    tension_floor_n: float = Field(1.0, ge=0)
    winch: ModbusDeviceCfg
    vehicle: ModbusDeviceCfg
    load_cell: SerialDeviceCfg
    uss: SerialDeviceCfg
    spool: SpoolCfg
    sim: dict[str, float] = Field(
        default_factory=dict, description="simulator-only vehicle model; ignored by the daemon"
    )

    @model_validator(mode="after")
    def _geometry(self) -> Self:
        order = [self.z_park_m, self.z_valve_m, self.z_liquid_m, self.z_exit_m, self.z_launch_m]
        if order != sorted(order, reverse=True) or len(set(order)) != len(order):
            raise ValueError("need z_park_m > z_valve_m > z_liquid_m > z_exit_m > z_launch_m")
        if self.z_launch_m > self.max_radius_m:
            raise ValueError("the launch point must keep acrylic_clearance_m from the acrylic")
        if not math.isclose(self.z_exit_m, self.sphere_radius_m, abs_tol=0.5):
            raise ValueError("the chimney exit must be at the top of the sphere")
        if self.winch.endpoint == self.vehicle.endpoint and (
            self.winch.device_id == self.vehicle.device_id
        ):
            raise ValueError("winch and vehicle share a Modbus device id")
        if self.payout_speed_m_s < self.speed_max_m_s:
            raise ValueError("payout_speed_m_s must be at least speed_max_m_s")
        path_m = self.z_park_m - self.z_exit_m + 2 * self.sphere_radius_m + self.slack_margin_m
        if path_m > self.spool.cable_length_m - 1.0:
            raise ValueError(f"the umbilical must be longer than {path_m + 1.0:.1f} m")
        return self

    @property
    def max_radius_m(self) -> float:
        """Targets stay inside this radius."""
        return self.sphere_radius_m - self.acrylic_clearance_m

    def endpoints(self) -> list[str]:
        """Every hardware endpoint of the system."""
        return [
            self.winch.endpoint,
            self.vehicle.endpoint,
            self.load_cell.endpoint,
            self.uss.endpoint,
        ]
