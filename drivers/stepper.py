"""Closed-loop stepper drive over Modbus (docs/hardware.md section 1).

Positions are encoder counts on the wire; the driver speaks revolutions of the output that
``counts_per_rev`` refers to (a spool drum, or the turntable when ``counts_per_rev`` is motor
counts x gear ratio). Rounding to whole counts happens here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum, IntFlag

from drivers.bus import RegisterBus
from drivers.errors import ProtocolError, attributed_to

# Holding registers
REG_TARGET_POS = 0
REG_SPEED = 2
REG_ACCEL = 4
REG_COMMAND = 6
REG_COMM_TIMEOUT = 7
#: COMM_TIMEOUT counts in 10 ms steps (uint16: at most 655.35 s)
COMM_TIMEOUT_STEP_S = 0.01
COMM_TIMEOUT_MAX_S = 0xFFFF * COMM_TIMEOUT_STEP_S
# Input registers: STATUS, ALARM_CODE, CMD_POS(2), ENC_POS(2), VELOCITY(2), INPUTS
STATUS_BLOCK_COUNT = 9

_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1
_UINT32_MAX = 2**32 - 1


class Command(IntEnum):
    """Codes written to the COMMAND register."""

    START = 1
    STOP = 2
    HALT = 3
    HOME = 4
    ALARM_RESET = 5


class StatusBit(IntFlag):
    """Bits of the STATUS input register."""

    MOVING = 1 << 0
    IN_POSITION = 1 << 1
    ALARM = 1 << 2
    HOME_SW = 1 << 3
    LIMIT_POS = 1 << 4
    LIMIT_NEG = 1 << 5
    HOMED = 1 << 6
    ENABLED = 1 << 7
    COMM_TIMEOUT = 1 << 8


class AlarmCode(IntEnum):
    """Values of ALARM_CODE."""

    NONE = 0
    OVER_CURRENT = 1
    FOLLOWING_ERROR = 2
    OVERLOAD = 3
    LIMIT_SWITCH = 4
    ENCODER_FAULT = 5
    OVER_TEMPERATURE = 6


@dataclass(frozen=True)
class DriveStatus:
    """One status poll, in revolutions of the configured output."""

    moving: bool
    in_position: bool
    alarm: bool
    home_switch: bool
    limit_pos: bool
    limit_neg: bool
    homed: bool
    enabled: bool
    alarm_code: int
    commanded_rev: float
    encoder_rev: float
    velocity_rev_s: float
    inputs: int
    #: the drive's communication watchdog stopped its last run (cleared by the next run)
    comm_timeout: bool = False

    def input(self, n: int) -> bool:
        """Digital input DIn, n = 1..16."""
        if not 1 <= n <= 16:
            raise ValueError(f"digital inputs are DI1..DI16, not DI{n}")
        return bool(self.inputs >> (n - 1) & 1)


def _int32(high: int, low: int) -> int:
    value = (high << 16) | low
    return value - (1 << 32) if value & 0x8000_0000 else value


def _words(value: int) -> list[int]:
    value &= 0xFFFF_FFFF
    return [value >> 16, value & 0xFFFF]


def decode_status(
    regs: Sequence[int], counts_per_rev: float, *, device: str = "stepper"
) -> DriveStatus:
    """Decode input registers 0..8 (one status poll)."""
    if counts_per_rev <= 0:
        raise ValueError("counts_per_rev must be > 0")
    if len(regs) != STATUS_BLOCK_COUNT or any(not 0 <= r <= 0xFFFF for r in regs):
        raise ProtocolError(f"status block must be 9 uint16 registers, got {regs!r}", device=device)
    bits = StatusBit(regs[0] & 0x1FF)
    return DriveStatus(
        moving=StatusBit.MOVING in bits,
        in_position=StatusBit.IN_POSITION in bits,
        alarm=StatusBit.ALARM in bits,
        home_switch=StatusBit.HOME_SW in bits,
        limit_pos=StatusBit.LIMIT_POS in bits,
        limit_neg=StatusBit.LIMIT_NEG in bits,
        homed=StatusBit.HOMED in bits,
        enabled=StatusBit.ENABLED in bits,
        alarm_code=regs[1],
        commanded_rev=_int32(regs[2], regs[3]) / counts_per_rev,
        encoder_rev=_int32(regs[4], regs[5]) / counts_per_rev,
        velocity_rev_s=_int32(regs[6], regs[7]) / counts_per_rev,
        inputs=regs[8],
        comm_timeout=StatusBit.COMM_TIMEOUT in bits,
    )


def encode_move(
    target_counts: int, speed_counts_s: int, accel_counts_s2: int, comm_timeout: int = 0
) -> list[int]:
    """Holding registers 0..7 of a move request: target, speed, accel, START and the
    communication watchdog (in 10 ms steps, 0 = off)."""
    if not _INT32_MIN <= target_counts <= _INT32_MAX:
        raise ValueError(f"target {target_counts} counts is outside int32")
    for label, value in (("speed", speed_counts_s), ("accel", accel_counts_s2)):
        if not 1 <= value <= _UINT32_MAX:
            raise ValueError(f"{label} {value} must be 1..2**32-1 counts")
    return [
        *_words(target_counts),
        *_words(speed_counts_s),
        *_words(accel_counts_s2),
        int(Command.START),
        comm_timeout,
    ]


class StepperDrive:
    """One drive on a shared Modbus bus, in revolutions of its output."""

    def __init__(
        self,
        bus: RegisterBus,
        device_id: int,
        *,
        name: str,
        counts_per_rev: float,
        comm_timeout_s: float = 0.0,
    ) -> None:
        """`comm_timeout_s`: the drive's communication watchdog, in the drive's time, written
        with every START and HOME (0: off)."""
        if counts_per_rev <= 0:
            raise ValueError("counts_per_rev must be > 0")
        finite = math.isfinite(comm_timeout_s)
        steps = round(comm_timeout_s / COMM_TIMEOUT_STEP_S) if finite else -1
        if not 0 <= steps <= 0xFFFF:
            raise ValueError(f"{name}: comm_timeout_s must be 0..{COMM_TIMEOUT_MAX_S:.2f} s")
        if comm_timeout_s > 0 and steps == 0:
            raise ValueError(f"{name}: comm_timeout_s {comm_timeout_s} is under the 10 ms step")
        self.name = name
        self._bus = bus
        self._device_id = device_id
        self._counts_per_rev = counts_per_rev
        self._comm_timeout = steps

    @property
    def counts_per_rev(self) -> float:
        """Encoder counts per output revolution."""
        return self._counts_per_rev

    async def read_status(self) -> DriveStatus:
        """One FC04 poll of input registers 0..8."""
        with attributed_to(self.name):
            regs = await self._bus.read_input_registers(self._device_id, 0, STATUS_BLOCK_COUNT)
        return decode_status(regs, self._counts_per_rev, device=self.name)

    async def move_to(self, target_rev: float, speed_rev_s: float, accel_rev_s2: float) -> None:
        """Absolute move: target, speed, accel and START in one FC16 block write."""
        regs = encode_move(
            self._counts(target_rev),
            self._rate_counts(speed_rev_s, "speed"),
            self._rate_counts(accel_rev_s2, "accel"),
            self._comm_timeout,
        )
        with attributed_to(self.name):
            await self._bus.write_registers(self._device_id, REG_TARGET_POS, regs)

    async def stop(self) -> None:
        """Decelerate to standstill at ACCEL."""
        await self._command(Command.STOP)

    async def halt(self) -> None:
        """Quick stop (within one servo cycle)."""
        await self._command(Command.HALT)

    async def home(self, speed_rev_s: float, accel_rev_s2: float | None = None) -> None:
        """Write SPEED (and ACCEL if given), then COMMAND = HOME with the watchdog."""
        words = _words(self._rate_counts(speed_rev_s, "speed"))
        if accel_rev_s2 is not None:
            words += _words(self._rate_counts(accel_rev_s2, "accel"))
        with attributed_to(self.name):
            await self._bus.write_registers(self._device_id, REG_SPEED, words)
            await self._bus.write_registers(
                self._device_id, REG_COMMAND, [int(Command.HOME), self._comm_timeout]
            )

    async def reset_alarm(self) -> None:
        """Clear ALARM and ALARM_CODE (if the cause is gone)."""
        await self._command(Command.ALARM_RESET)

    async def _command(self, command: Command) -> None:
        with attributed_to(self.name):
            await self._bus.write_register(self._device_id, REG_COMMAND, int(command))

    def _counts(self, rev: float) -> int:
        if not math.isfinite(rev):
            raise ValueError(f"{self.name}: target {rev} rev is not finite")
        counts = round(rev * self._counts_per_rev)
        if not _INT32_MIN <= counts <= _INT32_MAX:
            raise ValueError(f"{self.name}: {rev} rev is outside the drive's int32 range")
        return counts

    def _rate_counts(self, rate: float, label: str) -> int:
        if not math.isfinite(rate):
            raise ValueError(f"{self.name}: {label} {rate} is not finite")
        counts = round(rate * self._counts_per_rev)
        if not 1 <= counts <= _UINT32_MAX:
            raise ValueError(f"{self.name}: {label} {rate} rev is not 1..2**32-1 counts")
        return counts
