"""The simulator's view of the [gt] section (Guide Tube)."""

from __future__ import annotations

from pydantic import Field

from simulators.config_base import LoadCellCfg, ModbusDeviceCfg, Model


class GtTubeCfg(Model):
    radius_m: float = Field(17.836, gt=0)
    theta_start_deg: float = 2.0
    theta_end_deg: float = 178.0
    lead_top_m: float = Field(3.0, ge=0)
    lead_bottom_m: float = Field(3.0, ge=0)
    friction_mu: float = Field(0.1, ge=0)


class GtSpoolCfg(Model):
    """Single-layer drum (constant metres per revolution), cable, dancer, load cell."""

    drum_radius_m: float = Field(gt=0)
    cable_diameter_m: float = Field(gt=0)
    cable_length_m: float = Field(gt=1.0)
    counts_per_rev: int = Field(gt=0)
    cable_ea_n: float = Field(gt=0)
    tensioner_n_m: float = Field(gt=0)
    load_cell_range_n: float = Field(200.0, gt=0)


class GtAxisCfg(Model):
    drive: ModbusDeviceCfg
    load_cell: LoadCellCfg


class GtSimCfg(Model):
    """Physics only the simulator has (the daemon does not model it)."""

    car_friction_n: float = Field(0.2, ge=0)


class GtCfg(Model):
    valve: str | None = None
    theta_park_deg: float = 2.5
    pretension_n: float = Field(20.0, gt=0)
    car_weight_n: float = Field(1.5, ge=0)
    tube: GtTubeCfg = GtTubeCfg()
    spool: GtSpoolCfg
    top: GtAxisCfg
    bottom: GtAxisCfg
    sim: GtSimCfg = GtSimCfg()
