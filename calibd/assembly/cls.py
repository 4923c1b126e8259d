"""Build a Cable Loop System: two spool drives, two load cells, the optional USS receiver."""

from __future__ import annotations

from calibd.assembly.drives import stepper
from calibd.buses import Buses
from calibd.cfg_cls import ClsCableCfg, ClsCfg
from calibd.config import Settings
from calibd.core.outbox import Outbox
from calibd.core.valves import ValveControl
from calibd.subsystems.cls import Cls
from calibd.subsystems.cls_axes import ClsAxes
from calibd.subsystems.cls_kinematics import ClsModel
from drivers.load_cell import LoadCell
from drivers.stepper import StepperDrive
from drivers.uss import UssReceiver


def _cable(
    name: str, axis: str, cab: ClsCableCfg, counts_per_rev: int, buses: Buses, settings: Settings
) -> tuple[StepperDrive, LoadCell]:
    drive = stepper(
        buses,
        settings,
        cab.drive.endpoint,
        cab.drive.device_id,
        name=f"{name}-{axis}",
        counts_per_rev=counts_per_rev,
    )
    cell = LoadCell(
        buses.serial_line(cab.load_cell.endpoint), cab.load_cell.address, name=f"{name}-load-{axis}"
    )
    return drive, cell


def build(
    name: str,
    cfg: ClsCfg,
    settings: Settings,
    buses: Buses,
    outbox: Outbox,
    valves: ValveControl,
) -> Cls:
    """The `name` (cls1 / cls2) subsystem."""
    central = _cable(name, "central", cfg.central, cfg.spool.counts_per_rev, buses, settings)
    side = _cable(name, "side", cfg.side, cfg.side_spool.counts_per_rev, buses, settings)
    uss = None
    if cfg.uss is not None:
        uss = UssReceiver(buses.serial_line(cfg.uss.endpoint), cfg.uss.address, name=f"{name}-uss")
    ts = settings.sim.time_scale
    axes = ClsAxes(
        cfg, ClsModel(cfg), central, side, uss, time_scale=ts, limits=settings.interlocks
    )
    return Cls(name, cfg, axes, valves, outbox, time_scale=ts)
