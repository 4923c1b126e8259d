"""What the ACU publishes of its laser: the status's `laser` object and the telemetry's."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from calibd.subsystems.acu_laser import AcuLaser
from calibd.subsystems.acu_laser_args import sig


def laser_status(laser: AcuLaser) -> dict[str, Any]:
    """`{"unit", "emission", "enabled", "shutter", "rate_hz", "intensity", "head_temp_c",
    "faults", "lost", "interval", "blocked", "scan"}` (docs/mqtt-api.md "The ACU laser")."""
    st = None if laser.lost is not None else laser.status
    return {
        "unit": laser.cfg.unit,
        "emission": None if st is None else st.emitting,
        "enabled": None if st is None else st.enabled,
        "shutter": None if st is None else st.shutter_open,
        "rate_hz": None if st is None else st.rate_hz,
        "intensity": None if st is None else sig(st.intensity),
        "head_temp_c": None if st is None else st.head_temp_c,
        "faults": [] if st is None else list(st.faults),
        "lost": laser.lost is not None,
        "interval": None if laser.emission is None else asdict(laser.emission),
        "blocked": laser.blocker(),
        "scan": None if laser.scan is None else laser.scan.progress(),
    }


def laser_telemetry(laser: AcuLaser) -> dict[str, Any]:
    st = None if laser.lost is not None else laser.status
    if st is None:
        return {"emission": None, "lost": laser.lost is not None}
    return {
        "emission": st.emitting,
        "rate_hz": st.rate_hz,
        "intensity": sig(st.intensity),
        "od_milli": st.od_milli,
        "head_temp_c": st.head_temp_c,
        "flags": st.flags,
        "lost": False,
    }
