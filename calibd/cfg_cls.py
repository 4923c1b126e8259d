"""Configuration of a Cable Loop System ([cls1], [cls2])."""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator

from calibd.cfgbase import ModbusDeviceCfg, SerialDeviceCfg, SpoolCfg, Strict


class ClsCableCfg(Strict):
    """One cable of the loop: its spool drive and its load cell."""

    drive: ModbusDeviceCfg
    load_cell: SerialDeviceCfg


class UssCfg(SerialDeviceCfg):
    """Ultrasonic receiver tracking the source (optional cross-check of the cable model)."""

    noise_m: float = Field(0.005, ge=0, description="simulator only: fix noise per axis")


class ClsCfg(Strict):
    valve: str
    poll_fast_hz: float = Field(50.0, gt=0, le=500)
    poll_idle_s: float = Field(0.5, gt=0, le=5)
    z_park_m: float = 23.0
    z_liquid_m: float = 19.5
    z_valve_m: float = 21.5
    chimney_exit_z_m: float = 17.7
    sphere_radius_m: float = Field(17.7, gt=0)
    anchor_angle_deg: float = Field(ge=-170, le=170)
    wall_clearance_m: float = Field(0.3, ge=0)
    side_park_paid_out_m: float = Field(gt=0)
    side_follow_h_n: float = Field(1.0, gt=0)
    speed_m_s: float = Field(0.05, gt=0)
    accel_m_s2: float = Field(0.05, gt=0)
    home_speed_m_s: float = Field(0.02, gt=0)
    waypoint_step_m: float = Field(0.2, gt=0.01, le=2.0)
    position_tolerance_m: float = Field(0.005, gt=0)
    move_margin_s: float = Field(5.0, ge=0)
    snag_factor: float = Field(3.0, gt=1)
    slack_factor: float = Field(0.4, gt=0, lt=1)
    tension_floor_n: float = Field(0.5, ge=0)
    tension_min_n: float = Field(0.3, ge=0)
    tension_max_n: float = Field(12.0, gt=0)
    uss_tolerance_m: float = Field(0.05, gt=0)
    central: ClsCableCfg
    side: ClsCableCfg
    spool: SpoolCfg
    side_spool: SpoolCfg
    uss: UssCfg | None = None

    @model_validator(mode="after")
    def _check(self) -> Self:
        if not self.z_park_m > self.z_valve_m > self.chimney_exit_z_m:
            raise ValueError("need z_park_m > z_valve_m > chimney_exit_z_m")
        if not self.side_park_paid_out_m < self.side_spool.cable_length_m:
            raise ValueError("side_park_paid_out_m must be below side_spool.cable_length_m")
        if self.anchor_angle_deg == 0:
            raise ValueError("anchor_angle_deg must not be 0 (the anchor is off the axis)")
        return self

    def endpoints(self) -> list[str]:
        """Every hardware endpoint of the system."""
        out = [
            self.central.drive.endpoint,
            self.central.load_cell.endpoint,
            self.side.drive.endpoint,
            self.side.load_cell.endpoint,
        ]
        if self.uss is not None:
            out.append(self.uss.endpoint)
        return out
