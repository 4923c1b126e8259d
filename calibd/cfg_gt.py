"""Configuration of the gt system (placeholder until the system lands)."""

from __future__ import annotations

from calibd.cfgbase import Strict


class GtCfg(Strict):
    valve: str | None = None

    def endpoints(self) -> list[str]:
        """Every hardware endpoint of the system."""
        return []
