"""Build the ROV: winch drive + load cell, vehicle controller, ultrasonic receiver."""

from __future__ import annotations

from calibd.assembly.drives import stepper
from calibd.buses import Buses
from calibd.cfg_rov import RovCfg
from calibd.config import Settings
from calibd.core.outbox import Outbox
from calibd.core.valves import ValveControl
from calibd.subsystems.rov import Rov
from calibd.subsystems.rov_plant import RovPlant
from drivers.load_cell import LoadCell
from drivers.rov_vehicle import RovVehicle
from drivers.uss import UssReceiver


def build(
    cfg: RovCfg, settings: Settings, buses: Buses, outbox: Outbox, valves: ValveControl
) -> Rov:
    """The ROV subsystem."""
    winch = stepper(
        buses,
        settings,
        cfg.winch.endpoint,
        cfg.winch.device_id,
        name="rov-winch",
        counts_per_rev=cfg.spool.counts_per_rev,
    )
    cell = LoadCell(
        buses.serial_line(cfg.load_cell.endpoint), cfg.load_cell.address, name="rov-load"
    )
    vehicle = RovVehicle(
        buses.modbus_bus(cfg.vehicle.endpoint), cfg.vehicle.device_id, name="rov-vehicle"
    )
    uss = UssReceiver(buses.serial_line(cfg.uss.endpoint), cfg.uss.address, name="rov-uss")
    ts = settings.sim.time_scale
    plant = RovPlant(cfg, winch, cell, vehicle, uss, time_scale=ts, limits=settings.interlocks)
    return Rov(cfg, plant, valves, outbox, time_scale=ts)
