"""What the rack needs from one simulated system (acu, cls1, cls2, gt, rov).

A system owns its physics and its devices; the rack serves the devices on their transports,
ticks the physics, routes injected faults and publishes the truth.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from pymodbus.simulator import SimDevice

from simulators.clock import Clock
from simulators.stepper import Drive

#: axis name -> predicate "this axis's devices are silent" (the comm_loss fault)
Silent = Callable[[str], Callable[[], bool]]
#: one request line in, one answer (or None: no answer) out
LineHandler = Callable[[bytes], bytes | None]
#: house valve name (None: no valve) -> "is it open at simulated time t_s"
ValveOpen = Callable[[str | None, float], bool]


class SimSystem(Protocol):
    """One simulated deployment system."""

    name: str

    def drives(self) -> dict[str, Drive]:
        """Axis name -> stepper drive (the rack advances them and hooks their commands)."""
        ...

    def fault_axes(self) -> dict[str, frozenset[str]]:
        """Axis name -> the faults it accepts (see simulators.faults)."""
        ...

    def modbus_devices(self, clock: Clock, silent: Silent) -> list[tuple[str, SimDevice]]:
        """(tcp:// endpoint text, device) for every Modbus device of the system."""
        ...

    def serial_lines(self, clock: Clock, silent: Silent) -> dict[str, LineHandler]:
        """pty path -> handler of that line (one system owns a whole line)."""
        ...

    def tick(self, t_s: float) -> None:
        """Advance the physics to simulated time ``t_s`` (drives are advanced before)."""
        ...

    def set_fault(self, axis: str, fault: str, active: bool, t_s: float) -> None:
        """Apply or remove a fault (comm_loss is handled by the rack)."""
        ...

    def truth(self, t_s: float) -> dict[str, object]:
        """The truth payload body: same position keys as the daemon's status, plus tensions."""
        ...
