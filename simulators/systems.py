"""The simulated systems named in the config (each a ``SimSystem``)."""

from __future__ import annotations

import functools

from simulators.acu import Acu
from simulators.config import SimConfig
from simulators.system import SimSystem, ValveOpen


def build_systems(cfg: SimConfig, valve_open: ValveOpen, t_s: float) -> list[SimSystem]:
    """One simulator per configured deployment system."""
    sim = cfg.sim
    systems: list[SimSystem] = []
    if cfg.acu:
        acu_valve = functools.partial(valve_open, cfg.acu.valve)
        systems.append(Acu(cfg.acu, acu_valve, sim.seed, sim.tension_noise_n, t_s))
    return systems
