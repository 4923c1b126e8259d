"""Build the ACU: turntable drive, one drive and load cell per spool unit."""

from __future__ import annotations

from calibd.assembly.drives import stepper
from calibd.buses import Buses
from calibd.config import AcuCfg, Settings
from calibd.core.outbox import Outbox
from calibd.core.valves import ValveControl
from calibd.subsystems.acu import Acu
from calibd.subsystems.acu_axes import AcuAxes
from drivers.base import Drive, ForceSensor
from drivers.laser import LaserController
from drivers.load_cell import LoadCell
from drivers.thermometer import Thermometer


def build(
    cfg: AcuCfg, settings: Settings, buses: Buses, outbox: Outbox, valves: ValveControl
) -> Acu:
    """The ACU subsystem."""
    tt = cfg.turntable
    turntable = stepper(
        buses,
        settings,
        tt.endpoint,
        tt.device_id,
        name="acu-turntable",
        counts_per_rev=tt.counts_per_rev * tt.gear_ratio,
    )
    units: dict[str, tuple[Drive, ForceSensor]] = {}
    for u in cfg.units:
        spool = cfg.spool_of(u.name)
        drive = stepper(
            buses,
            settings,
            u.drive.endpoint,
            u.drive.device_id,
            name=f"acu-spool-{u.name}",
            counts_per_rev=spool.counts_per_rev,
        )
        cell = LoadCell(
            buses.serial_line(u.load_cell.endpoint), u.load_cell.address, name=f"acu-load-{u.name}"
        )
        units[u.name] = (drive, cell)
    axes = AcuAxes(cfg, turntable, units, settings.interlocks)
    laser = None
    if cfg.laser is not None:
        line = buses.serial_line(cfg.laser.endpoint)
        laser = LaserController(line, cfg.laser.address, name=f"acu-laser-{cfg.laser.unit}")
    acu = Acu(cfg, axes, valves, outbox, time_scale=settings.sim.time_scale, laser=laser)
    if cfg.thermometer is not None:
        t = cfg.thermometer
        acu.attach_thermometer(
            Thermometer(buses.serial_line(t.endpoint), t.address, name="acu-thermometer")
        )
    return acu
