"""The pulsed UV laser controller of the ACU (docs/hardware.md §8): ASCII on its own serial line.

Emission (the pulses fire) and the output shutter, pulse rate, attenuator (optical density in
thousandths: transmission 10**(-A/1000)), head temperature from a first-order thermal model in
simulated time (so `time_scale` speeds it up), and latched fault flags that force emission off.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable

# fault flags (the F field, two hex digits)
F_OVERTEMP = 0x01  # head at or above OT_TRIP_C
F_INTERLOCK = 0x02  # the interlock loop (door, fibre) is open
F_DRIVER = 0x04  # pump diode / driver fault
#: faults calibsim injects on axis `laser` of the acu (comm_loss: the rack silences the line)
LASER_FAULTS = frozenset({"comm_loss", "laser_fault", "laser_overtemp", "laser_interlock"})

RATE_MIN_HZ, RATE_MAX_HZ = 0.1, 10_000.0
OD_MAX_MILLI = 4000  # 4 orders of magnitude
AMBIENT_C = 22.0
FULL_RATE_RISE_C = 15.0  # steady head temperature rise firing at RATE_MAX_HZ
TAU_S = 60.0  # thermal time constant with the cooling working
COOLING_FAILED_RISE_C = 40.0  # the rise with the cooling failed (fault `laser_overtemp`)
COOLING_FAILED_TAU_S = 10.0
OT_TRIP_C = 45.0
OT_CLEAR_C = 40.0
MODEL = "UVL-266"


def checksum(text: str) -> str:
    """XOR of every byte strictly between ``#`` and ``*``, two upper-case hex digits."""
    value = 0
    for byte in text.encode("ascii"):
        value ^= byte
    return f"{value:02X}"


def frame(address: int, status: str, body: str = "") -> bytes:
    """``#AA SS body*CC\\r\\n``."""
    inner = f"{address:02d} {status} {body}"
    return f"#{inner}*{checksum(inner)}\r\n".encode("ascii")


def status_body(
    enabled: bool, shutter: bool, rate_hz: float, od_milli: int, temp_c: float, flags: int
) -> str:
    """``E1 H1 R00100.0 A3000 T+031.25 F00``."""
    return (
        f"E{int(enabled)} H{int(shutter)} R{rate_hz:07.1f} A{od_milli:04d}"
        f" T{temp_c:+07.2f} F{flags:02X}"
    )


class LaserController:
    """One controller at one address, from simulated time `t_s` on."""

    def __init__(
        self, address: int, rng: random.Random, t_s: float, *, noise_c: float = 0.02
    ) -> None:
        self.address = address
        self.rng = rng
        self.noise_c = noise_c
        # power-on: emission off, shutter closed, lowest transmission
        self.enabled = False
        self.shutter = False
        self.rate_hz = 10.0
        self.od_milli = OD_MAX_MILLI
        self.temp_c = AMBIENT_C
        self.flags = 0
        self.cooling_failed = False
        self.loop_open = False
        self.driver_fault = False
        self._t_s = t_s

    # ---- physics -----------------------------------------------------------------------------

    @property
    def emitting(self) -> bool:
        """Light leaves the head: the pulses fire and the shutter is open."""
        return self.enabled and self.shutter

    def advance(self, t_s: float) -> None:
        """Integrate the head temperature to `t_s` (exact for a constant target); latch flags."""
        dt_s = t_s - self._t_s
        if dt_s > 0:
            rise_c = FULL_RATE_RISE_C * self.rate_hz / RATE_MAX_HZ if self.enabled else 0.0
            tau_s = TAU_S
            if self.cooling_failed:
                rise_c, tau_s = rise_c + COOLING_FAILED_RISE_C, COOLING_FAILED_TAU_S
            target_c = AMBIENT_C + rise_c
            self.temp_c = target_c + (self.temp_c - target_c) * math.exp(-dt_s / tau_s)
            self._t_s = t_s
        if self.temp_c >= OT_TRIP_C:
            self.flags |= F_OVERTEMP
        if self.loop_open:
            self.flags |= F_INTERLOCK
        if self.driver_fault:
            self.flags |= F_DRIVER
        if self.flags:
            self.enabled = self.shutter = False

    def set_fault(self, fault: str, active: bool, t_s: float) -> None:
        """laser_overtemp (the cooling fails), laser_interlock (the loop opens), laser_fault."""
        self.advance(t_s)
        if fault == "laser_overtemp":
            self.cooling_failed = active
        elif fault == "laser_interlock":
            self.loop_open = active
        elif fault == "laser_fault":
            self.driver_fault = active
        self.advance(t_s)

    # ---- protocol ----------------------------------------------------------------------------

    def answer(self, command: str, t_s: float) -> bytes:
        """The response to one request body at simulated time `t_s`."""
        self.advance(t_s)
        a = self.address
        if command == "Q":
            temp_c = (
                self.temp_c + self.rng.gauss(0.0, self.noise_c) if self.noise_c else self.temp_c
            )
            body = status_body(
                self.enabled, self.shutter, self.rate_hz, self.od_milli, temp_c, self.flags
            )
            return frame(a, "ST", body)
        if command == "I":
            return frame(a, "ID", f"{MODEL} {RATE_MAX_HZ:.1f}")
        if command == "X":
            self.enabled = self.shutter = False
            return frame(a, "OK")
        if command == "C":
            self._clear()
            return frame(a, "OK")
        if command in ("E0", "H0"):
            if command == "E0":
                self.enabled = False
            else:
                self.shutter = False
            return frame(a, "OK")
        if command in ("E1", "H1"):
            if self.flags:
                return frame(a, "NO", "FLT")
            if command == "E1":
                self.enabled = True
            else:
                self.shutter = True
            return frame(a, "OK")
        return self._setting(command, t_s)

    def _setting(self, command: str, t_s: float) -> bytes:
        a = self.address
        text = command[1:]
        if command[:1] == "R" and len(text) == 7 and text[5] == "." and _digits(text, 5):
            rate_hz = float(text)
            if not RATE_MIN_HZ <= rate_hz <= RATE_MAX_HZ:
                return frame(a, "NO", "RNG")
            self.rate_hz = rate_hz
            return frame(a, "OK")
        if command[:1] == "A" and len(text) == 4 and text.isdigit():
            od_milli = int(text)
            if od_milli > OD_MAX_MILLI:
                return frame(a, "NO", "RNG")
            self.od_milli = od_milli
            return frame(a, "OK")
        return frame(a, "??")

    def _clear(self) -> None:
        """Clear the flags whose cause is gone."""
        if self.temp_c < OT_CLEAR_C:
            self.flags &= ~F_OVERTEMP
        if not self.loop_open:
            self.flags &= ~F_INTERLOCK
        if not self.driver_fault:
            self.flags &= ~F_DRIVER

    def truth(self, t_s: float) -> dict[str, object]:
        """What the head really does."""
        self.advance(t_s)
        return {
            "emission": self.emitting,
            "enabled": self.enabled,
            "shutter": self.shutter,
            "rate_hz": self.rate_hz,
            "transmission": round(10.0 ** (-self.od_milli / 1000.0), 8),
            "head_temp_c": round(self.temp_c, 3),
            "flags": self.flags,
        }


def _digits(text: str, dot: int) -> bool:
    return all(c.isdigit() for i, c in enumerate(text) if i != dot)


def parse_request(line: bytes) -> tuple[int, str] | None:
    """``#AA<cmd>`` (CR already stripped) -> (address, command); None if not a request."""
    text = line.strip().decode("ascii", errors="replace")
    if len(text) < 4 or text[0] != "#" or not text[1:3].isdigit():
        return None
    return int(text[1:3]), text[3:]


class LaserLine:
    """The laser's serial line: routes each request by address (unknown: no answer); the
    whole line is silent while `silent()` (the comm_loss fault)."""

    def __init__(
        self,
        controllers: Iterable[LaserController],
        now_s: Callable[[], float],
        silent: Callable[[], bool] = lambda: False,
    ) -> None:
        self.controllers = {c.address: c for c in controllers}
        self.now_s = now_s
        self.silent = silent

    def handle(self, line: bytes) -> bytes | None:
        request = parse_request(line)
        if request is None or self.silent():
            return None
        controller = self.controllers.get(request[0])
        return None if controller is None else controller.answer(request[1], self.now_s())
