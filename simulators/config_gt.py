"""The simulator's view of a [gt...] section (placeholder until the system lands)."""

from __future__ import annotations

from simulators.config_base import Model


class GtCfg(Model):
    valve: str | None = None
