"""The simulator's view of a [cls...] section (placeholder until the system lands)."""

from __future__ import annotations

from simulators.config_base import Model


class ClsCfg(Model):
    valve: str | None = None
