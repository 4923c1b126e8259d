"""Configuration of the ACU's temperature-profile sensor (`[acu.thermometer]`)."""

from __future__ import annotations

from pydantic import Field

from calibd.cfgbase import SerialDeviceCfg, Strict


class ThermometerSimCfg(Strict):
    """Simulator-only physics (calibd validates and ignores it): the liquid's profile
    T(z) = t_center_c + gradient_c_m·z + top_excess_c·exp((z - z_liquid_m)/top_scale_m) below
    the liquid surface, `gas_c` above it; the sensing element's lag and the reading noise."""

    t_center_c: float = Field(20.5, ge=-20, le=60, description="liquid temperature at z = 0")
    gradient_c_m: float = Field(
        0.02, ge=-1, le=1, description="dT/dz of the bulk (K/m; > 0: warmer upwards, stable)"
    )
    top_excess_c: float = Field(0.3, ge=-10, le=10, description="extra warming at the surface")
    top_scale_m: float = Field(1.5, gt=0, le=50, description="depth scale of that layer")
    gas_c: float = Field(21.5, ge=-20, le=60, description="cover gas above the liquid surface")
    noise_c: float = Field(0.005, ge=0, le=1, description="Gaussian noise (sigma) per reading")
    tau_s: float = Field(1.0, ge=0, le=600, description="time constant of the sensing element")


class ThermometerCfg(SerialDeviceCfg):
    """The sensor: a PT100 transmitter on its own serial line through the cable of `unit`."""

    unit: str = Field(
        pattern=r"^[A-Z]$", description="the ACU unit whose cable carries the sensor and its line"
    )
    kind: str = Field(
        "thermometer",
        min_length=1,
        max_length=64,
        description="the inventory kind that must be mounted on `unit` for `profile`",
    )
    sample_period_s: float = Field(
        1.0,
        gt=0,
        le=60,
        description="physical seconds between samples (divided by sim.time_scale; at most one"
        " sample per position poll)",
    )
    max_speed_m_s: float = Field(
        0.02, gt=0, le=0.2, description="the fastest `profile` allowed (slow: the sensor lags)"
    )
    chunk_samples: int = Field(
        20, ge=1, le=500, description="samples per message on {root}/acu/profile"
    )
    chunk_period_s: float = Field(
        1.0, gt=0, le=60, description="wall seconds after which a partial chunk is published"
    )
    read_timeout_s: float = Field(
        1.0, gt=0, le=10, description="deadline of one reading (the line retries within it)"
    )
    sim: ThermometerSimCfg = ThermometerSimCfg()
