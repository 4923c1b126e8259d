"""The simulator's view of `[acu.thermometer]`: where the sensor is served, which unit carries
it, and `[acu.thermometer.sim]`, the liquid's temperature profile and the sensor's physics
(the daemon validates these keys too, and ignores them)."""

from __future__ import annotations

from pydantic import Field

from simulators.config_base import LoadCellCfg, Model


class ThermometerSimCfg(Model):
    """T(z) = t_center_c + gradient_c_m * z + top_excess_c * exp((z - z_liquid_m) / top_scale_m)
    below the liquid surface, `gas_c` above it; the sensor reads it through a first-order lag
    `tau_s`, with Gaussian noise `noise_c` per reading."""

    t_center_c: float = 20.5
    gradient_c_m: float = 0.02
    top_excess_c: float = 0.3
    top_scale_m: float = Field(1.5, gt=0)
    gas_c: float = 21.5
    noise_c: float = Field(0.005, ge=0)
    tau_s: float = Field(1.0, ge=0)


class ThermometerCfg(LoadCellCfg):
    """Endpoint and address (as a load cell's), the unit whose cable carries the sensor."""

    unit: str
    sim: ThermometerSimCfg = ThermometerSimCfg()
