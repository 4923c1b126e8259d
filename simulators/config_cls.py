"""The simulator's view of a [cls1] / [cls2] section (Cable Loop Systems)."""

from __future__ import annotations

from pydantic import Field

from simulators.config_base import EndpointModel, LoadCellCfg, ModbusDeviceCfg, Model, SpoolCfg


class ClsCableCfg(Model):
    """One cable of a loop: its drive and its load cell."""

    drive: ModbusDeviceCfg
    load_cell: LoadCellCfg


class UssCfg(EndpointModel):
    """The ultrasonic receiver tracking this loop's source (optional)."""

    address: int = Field(ge=1, le=32)
    noise_m: float = Field(0.005, ge=0)


class ClsCfg(Model):
    valve: str | None = None
    z_park_m: float = 23.0
    z_liquid_m: float = 19.5
    z_valve_m: float = 21.5
    chimney_exit_z_m: float = 17.7
    sphere_radius_m: float = 17.7
    anchor_angle_deg: float = 48.0
    side_park_paid_out_m: float = 30.0
    side_follow_h_n: float = 1.0
    central: ClsCableCfg
    side: ClsCableCfg
    spool: SpoolCfg
    side_spool: SpoolCfg
    uss: UssCfg | None = None
