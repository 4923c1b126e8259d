"""The simulator's view of the [rov] section (docs/systems/rov.md)."""

from __future__ import annotations

from pydantic import Field

from simulators.config_base import LoadCellCfg, ModbusDeviceCfg, Model, SpoolCfg


class UssCfg(LoadCellCfg):
    """The ultrasonic receiver tracking the vehicle (serial line, address)."""


class RovSimCfg(Model):
    """Simulator-only vehicle parameters (the daemon ignores them)."""

    added_mass_kg: float = Field(12.0, ge=0)
    body_radius_m: float = Field(0.15, gt=0)
    drag_h_n_s2_m2: float = Field(45.0, gt=0)
    drag_v_n_s2_m2: float = Field(24.0, gt=0)
    thrust_max_n: float = Field(20.0, gt=0)
    speed_max_m_s: float = Field(0.5, gt=0)
    velocity_tau_s: float = Field(0.5, gt=0)
    uss_noise_m: float = Field(0.005, ge=0)


class RovCfg(Model):
    valve: str | None = None
    z_park_m: float = 23.0
    z_valve_m: float = 21.5
    z_liquid_m: float = 19.5
    z_exit_m: float = 17.7
    chimney_radius_m: float = Field(0.4, gt=0)
    body_length_m: float = Field(0.5, gt=0)
    sphere_radius_m: float = Field(17.7, gt=0)
    winch: ModbusDeviceCfg
    vehicle: ModbusDeviceCfg
    load_cell: LoadCellCfg
    uss: UssCfg
    spool: SpoolCfg
    sim: RovSimCfg = RovSimCfg()
