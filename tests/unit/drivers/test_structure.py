"""Package-level guarantees: light imports, real drivers fit the daemon's Protocols."""

from __future__ import annotations

import subprocess
import sys

from drivers.base import Drive, ForceSensor, IoDevice
from drivers.endpoint import SerialEndpoint, TcpEndpoint
from drivers.health import Backoff
from drivers.io_module import IoModule
from drivers.load_cell import LoadCell
from drivers.modbus_bus import ModbusBus
from drivers.serial_line import SerialLine
from drivers.stepper import StepperDrive


def test_protocol_module_does_not_import_bus_libraries() -> None:
    code = (
        "import sys, drivers.base, drivers.fake, drivers.fake_drive, drivers.fake_io\n"
        "import drivers.fake_sensors\n"
        "bad = [m for m in ('pymodbus', 'serial', 'serial_asyncio_fast', 'drivers.modbus_bus',"
        " 'drivers.serial_line') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=30)


def test_real_drivers_fit_the_protocols() -> None:
    bus = ModbusBus(TcpEndpoint("127.0.0.1", 1), name="bus")
    line = SerialLine(SerialEndpoint("/tmp/x"), name="line")
    drive: Drive = StepperDrive(bus, 2, name="spool", counts_per_rev=4096)
    sensor: ForceSensor = LoadCell(line, 1, name="cable")
    io: IoDevice = IoModule(bus, 1, name="io")
    assert (drive.name, sensor.name, io.name) == ("spool", "cable", "io")


def test_backoff_doubles_caps_and_resets() -> None:
    backoff = Backoff(0.1, 0.3)
    assert backoff.remaining_s() == 0.0
    backoff.link_failed()
    assert 0.09 < backoff.remaining_s() <= 0.1
    backoff.link_failed()
    backoff.link_failed()
    assert backoff.delay_s == 0.3
    backoff.allow_now()
    assert backoff.remaining_s() == 0.0
    backoff.answered()
    assert backoff.delay_s == 0.1
