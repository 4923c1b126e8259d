"""Build the Guide Tube: one drive and one load cell per spool (top, bottom)."""

from __future__ import annotations

from calibd.assembly.drives import stepper
from calibd.buses import Buses
from calibd.config import GtCfg, Settings
from calibd.core.outbox import Outbox
from calibd.core.valves import ValveControl
from calibd.subsystems.gt import Gt
from calibd.subsystems.gt_axes import AXES, GtAxes
from drivers.base import Drive, ForceSensor
from drivers.load_cell import LoadCell


def build(cfg: GtCfg, settings: Settings, buses: Buses, outbox: Outbox, valves: ValveControl) -> Gt:
    """The GT subsystem."""
    devices: dict[str, tuple[Drive, ForceSensor]] = {}
    for name in AXES:
        axis = cfg.top if name == "top" else cfg.bottom
        drive = stepper(
            buses,
            settings,
            axis.drive.endpoint,
            axis.drive.device_id,
            name=f"gt-spool-{name}",
            counts_per_rev=cfg.spool.counts_per_rev,
        )
        cell = LoadCell(
            buses.serial_line(axis.load_cell.endpoint),
            axis.load_cell.address,
            name=f"gt-load-{name}",
        )
        devices[name] = (drive, cell)
    scale = settings.sim.time_scale
    axes = GtAxes(cfg, devices, time_scale=scale, limits=settings.interlocks)
    return Gt(cfg, axes, valves, outbox, time_scale=scale)
