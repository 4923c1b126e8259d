"""The simulated systems named in the config (each a ``SimSystem``)."""

from __future__ import annotations

import functools

from simulators.acu import Acu
from simulators.cls import ClsLoop
from simulators.config import SimConfig
from simulators.gt import Gt
from simulators.rov import Rov
from simulators.system import SimSystem, ValveOpen


def build_systems(cfg: SimConfig, valve_open: ValveOpen, t_s: float) -> list[SimSystem]:
    """One simulator per configured deployment system."""
    sim = cfg.sim
    systems: list[SimSystem] = []
    if cfg.acu:
        acu_valve = functools.partial(valve_open, cfg.acu.valve)
        systems.append(Acu(cfg.acu, acu_valve, sim.seed, sim.tension_noise_n, t_s))
    if cfg.rov:
        rov_valve = functools.partial(valve_open, cfg.rov.valve)
        systems.append(Rov(cfg.rov, rov_valve, sim.seed, sim.tension_noise_n, t_s))
    if cfg.gt:
        systems.append(Gt(cfg.gt, sim.seed, sim.tension_noise_n, t_s))
    for cls_name in ("cls1", "cls2"):
        cls_cfg = getattr(cfg, cls_name)
        if cls_cfg is not None:
            cls_valve = functools.partial(valve_open, cls_cfg.valve)
            systems.append(
                ClsLoop(cls_name, cls_cfg, cls_valve, sim.seed, sim.tension_noise_n, t_s)
            )
    return systems
