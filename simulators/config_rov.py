"""The simulator's view of a [rov...] section (placeholder until the system lands)."""

from __future__ import annotations

from simulators.config_base import Model


class RovCfg(Model):
    valve: str | None = None
