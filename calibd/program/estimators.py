"""The motion-time model of a configured system: its config kind picks its estimator."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from calibd.cfg_cls import ClsCfg
from calibd.cfg_gt import GtCfg
from calibd.cfg_rov import RovCfg
from calibd.config import AcuCfg, Settings
from calibd.program.eta import Estimator
from calibd.program.eta_acu import AcuEta
from calibd.program.eta_cls import ClsEta
from calibd.program.eta_gt import GtEta
from calibd.program.eta_rov import RovEta


def estimator(system: str, settings: Settings, start: Mapping[str, Any] | None) -> Estimator:
    """The motion model of `system` (configured), at `start` (default: parked)."""
    where = dict(start or {})
    cfg = getattr(settings, system)
    if isinstance(cfg, AcuCfg):
        return AcuEta(cfg, settings, where)
    if isinstance(cfg, ClsCfg):
        return ClsEta(system, cfg, settings, where)
    if isinstance(cfg, GtCfg):
        return GtEta(cfg, settings, where)
    if isinstance(cfg, RovCfg):
        return RovEta(cfg, settings, where)
    raise KeyError(f"{system} is not configured")
