"""Configuration of the cls system (placeholder until the system lands)."""

from __future__ import annotations

from calibd.cfgbase import Strict


class ClsCfg(Strict):
    valve: str | None = None

    def endpoints(self) -> list[str]:
        """Every hardware endpoint of the system."""
        return []
