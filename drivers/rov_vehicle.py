"""ROV vehicle controller over Modbus TCP (docs/hardware.md §6).

The tether carries Ethernet; the vehicle's onboard loop tracks a velocity setpoint with its
thrusters and zeroes them when the heartbeat stops changing (watchdog). This module holds the
register map codecs, the driver, the `Vehicle` Protocol the daemon depends on and an in-memory
`FakeVehicle` for the daemon's unit tests. Importing it pulls in neither pymodbus nor pyserial.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import IntEnum, IntFlag
from typing import Protocol

from drivers.bus import RegisterBus
from drivers.errors import CommError, ProtocolError, attributed_to

# Holding registers
REG_VX_SET = 0
REG_MODE = 3
REG_HEARTBEAT = 4
REG_WATCHDOG_MS = 5
REG_COMMAND = 6
SETPOINT_BLOCK_COUNT = 5  # VX, VY, VZ, MODE, HEARTBEAT: the per-poll frame
# Input registers: STATUS, FAULT_CODE, DEPTH, VX, VY, VZ, FX, FY, FZ, HEARTBEAT_ECHO
STATUS_BLOCK_COUNT = 10

MM_PER_M = 1000.0
CENTI_N = 100.0
_INT16_MIN, _INT16_MAX = -(2**15), 2**15 - 1
WATCHDOG_MIN_MS, WATCHDOG_MAX_MS = 50, 65535


class Mode(IntEnum):
    """MODE register."""

    OFF = 0
    VELOCITY = 1


class VehicleCommand(IntEnum):
    """Codes written to the COMMAND register."""

    FAULT_RESET = 1


class VehicleBit(IntFlag):
    """Bits of the STATUS input register."""

    THRUSTERS_ON = 1 << 0
    SATURATED = 1 << 1
    WATCHDOG = 1 << 2
    FAULT = 1 << 3
    LEAK = 1 << 4
    SUBMERGED = 1 << 5


class FaultCode(IntEnum):
    """FAULT_CODE register."""

    NONE = 0
    THRUSTER = 1
    LEAK = 2
    WATCHDOG = 3


Vec = tuple[float, float, float]


@dataclass(frozen=True)
class VehicleStatus:
    """One status poll in SI units."""

    thrusters_on: bool
    saturated: bool
    watchdog: bool
    fault: bool
    leak: bool
    submerged: bool
    fault_code: int
    depth_m: float
    velocity_m_s: Vec
    thrust_n: Vec
    heartbeat: int


def _int16(word: int) -> int:
    return word - 0x10000 if word & 0x8000 else word


def _word(value: int) -> int:
    if not _INT16_MIN <= value <= _INT16_MAX:
        raise ValueError(f"{value} is outside int16")
    return value & 0xFFFF


def decode_status(regs: Sequence[int], *, device: str = "rov-vehicle") -> VehicleStatus:
    """Decode input registers 0..9 (one status poll)."""
    if len(regs) != STATUS_BLOCK_COUNT or any(not 0 <= r <= 0xFFFF for r in regs):
        raise ProtocolError(
            f"status block must be {STATUS_BLOCK_COUNT} uint16 registers, got {regs!r}",
            device=device,
        )
    bits = VehicleBit(regs[0] & 0x3F)
    vx, vy, vz, fx, fy, fz = (_int16(r) for r in regs[3:9])
    return VehicleStatus(
        thrusters_on=VehicleBit.THRUSTERS_ON in bits,
        saturated=VehicleBit.SATURATED in bits,
        watchdog=VehicleBit.WATCHDOG in bits,
        fault=VehicleBit.FAULT in bits,
        leak=VehicleBit.LEAK in bits,
        submerged=VehicleBit.SUBMERGED in bits,
        fault_code=regs[1],
        depth_m=regs[2] / MM_PER_M,
        velocity_m_s=(vx / MM_PER_M, vy / MM_PER_M, vz / MM_PER_M),
        thrust_n=(fx / CENTI_N, fy / CENTI_N, fz / CENTI_N),
        heartbeat=regs[9],
    )


def encode_setpoint(velocity_m_s: Vec, mode: Mode, heartbeat: int) -> list[int]:
    """Holding registers 0..4: VX, VY, VZ (mm/s, int16), MODE, HEARTBEAT."""
    words = []
    for v in velocity_m_s:
        if not math.isfinite(v):
            raise ValueError(f"velocity {v} is not finite")
        words.append(_word(round(v * MM_PER_M)))
    return [*words, int(mode), heartbeat & 0xFFFF]


def watchdog_word(timeout_s: float) -> int:
    """WATCHDOG_MS for a timeout, clamped to what the register can hold."""
    if not math.isfinite(timeout_s) or timeout_s <= 0:
        raise ValueError(f"watchdog timeout {timeout_s} s must be > 0")
    return max(WATCHDOG_MIN_MS, min(WATCHDOG_MAX_MS, round(timeout_s * 1000.0)))


class Vehicle(Protocol):
    """What the daemon needs from the vehicle controller."""

    name: str

    async def read_status(self) -> VehicleStatus:
        """One status poll."""
        ...

    async def command(self, velocity_m_s: Vec, *, thrusters: bool) -> None:
        """Velocity setpoint + mode, with a fresh heartbeat (one frame)."""
        ...

    async def set_watchdog(self, timeout_s: float) -> None:
        """The heartbeat timeout after which the vehicle zeroes its thrusters."""
        ...

    async def reset_fault(self) -> None:
        """Clear a latched fault / watchdog trip (if its cause is gone)."""
        ...


class RovVehicle:
    """The vehicle controller on a shared Modbus bus."""

    def __init__(self, bus: RegisterBus, device_id: int, *, name: str) -> None:
        self.name = name
        self._bus = bus
        self._device_id = device_id
        self._heartbeat = 0

    async def read_status(self) -> VehicleStatus:
        """One FC04 poll of input registers 0..9."""
        with attributed_to(self.name):
            regs = await self._bus.read_input_registers(self._device_id, 0, STATUS_BLOCK_COUNT)
        return decode_status(regs, device=self.name)

    async def command(self, velocity_m_s: Vec, *, thrusters: bool) -> None:
        """FC16 of registers 0..4; every call carries the next heartbeat value."""
        self._heartbeat = (self._heartbeat + 1) & 0xFFFF
        mode = Mode.VELOCITY if thrusters else Mode.OFF
        regs = encode_setpoint(velocity_m_s, mode, self._heartbeat)
        with attributed_to(self.name):
            await self._bus.write_registers(self._device_id, REG_VX_SET, regs)

    async def set_watchdog(self, timeout_s: float) -> None:
        """FC06 WATCHDOG_MS."""
        with attributed_to(self.name):
            await self._bus.write_register(
                self._device_id, REG_WATCHDOG_MS, watchdog_word(timeout_s)
            )

    async def reset_fault(self) -> None:
        """FC06 COMMAND = FAULT_RESET."""
        with attributed_to(self.name):
            await self._bus.write_register(
                self._device_id, REG_COMMAND, int(VehicleCommand.FAULT_RESET)
            )


class FakeVehicle:
    """In-memory vehicle: moves at the commanded velocity while its thrusters are on.

    ``advance(dt_s)`` integrates the position; ``lag`` (0..1) makes the velocity follow the
    setpoint with a first-order lag per step. ``lost`` makes every call raise CommError;
    ``fault()`` latches a thruster fault (thrusters off until ``reset_fault`` after
    ``fault_cleared``). The watchdog zeroes thrust when ``advance`` runs longer than the
    watchdog without a command.
    """

    def __init__(
        self,
        name: str = "vehicle",
        *,
        position_m: Vec = (0.0, 0.0, 0.0),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.position_m = position_m
        self.velocity_m_s: Vec = (0.0, 0.0, 0.0)
        self.setpoint_m_s: Vec = (0.0, 0.0, 0.0)
        self.thrusters = False
        self.lost = False
        self.fault_code = 0
        self.fault_cleared = True
        self.watchdog_s = 1.0
        self.watchdog_tripped = False
        self.lag = 1.0
        self.heartbeats = 0
        self.commands: list[tuple[Vec, bool]] = []
        self._clock = clock
        self._last_command_s = clock()

    def _check(self, what: str) -> None:
        if self.lost:
            raise CommError(f"{what}: no answer (fake lost)", device=self.name)

    def fault(self, code: int = FaultCode.THRUSTER) -> None:
        """Latch a thruster fault now."""
        self.fault_code = int(code)
        self.fault_cleared = False

    @property
    def thrusters_on(self) -> bool:
        return self.thrusters and self.fault_code == 0

    def advance(self, dt_s: float) -> None:
        """Move for ``dt_s`` at the current velocity (after the watchdog check)."""
        if self.thrusters and self._clock() - self._last_command_s > self.watchdog_s:
            self.watchdog_tripped = True
            self.fault_code = int(FaultCode.WATCHDOG)
        target = self.setpoint_m_s if self.thrusters_on else (0.0, 0.0, 0.0)
        self.velocity_m_s = tuple(  # type: ignore[assignment]
            v + self.lag * (t - v) for v, t in zip(self.velocity_m_s, target, strict=True)
        )
        self.position_m = tuple(  # type: ignore[assignment]
            p + v * dt_s for p, v in zip(self.position_m, self.velocity_m_s, strict=True)
        )

    async def read_status(self) -> VehicleStatus:
        self._check("read")
        return VehicleStatus(
            thrusters_on=self.thrusters_on,
            saturated=False,
            watchdog=self.watchdog_tripped,
            fault=self.fault_code != 0,
            leak=False,
            submerged=True,
            fault_code=self.fault_code,
            depth_m=0.0,
            velocity_m_s=self.velocity_m_s,
            thrust_n=(0.0, 0.0, 0.0),
            heartbeat=self.heartbeats & 0xFFFF,
        )

    async def command(self, velocity_m_s: Vec, *, thrusters: bool) -> None:
        self._check("command")
        self.heartbeats += 1
        self._last_command_s = self._clock()
        self.setpoint_m_s = velocity_m_s
        self.thrusters = thrusters
        self.commands.append((velocity_m_s, thrusters))

    async def set_watchdog(self, timeout_s: float) -> None:
        self._check("watchdog")
        self.watchdog_s = timeout_s

    async def reset_fault(self) -> None:
        self._check("reset")
        if self.fault_cleared or self.fault_code == FaultCode.WATCHDOG:
            self.fault_code = 0
            self.watchdog_tripped = False
