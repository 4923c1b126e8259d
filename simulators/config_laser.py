"""The simulator's view of `[acu.laser]`: where the laser controller is served."""

from __future__ import annotations

from pydantic import Field

from simulators.config_base import EndpointModel


class LaserCfg(EndpointModel):
    """The UV laser controller of one ACU unit, on its own serial line (docs/hardware.md §8)."""

    address: int = Field(1, ge=1, le=32)
    unit: str = "D"
