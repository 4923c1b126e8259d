"""The ROV's onboard controller (docs/hardware.md §6): registers,
heartbeat watchdog, thruster faults and the onboard velocity loop (PI per axis, force limit)."""

from __future__ import annotations

from collections.abc import Callable

from pymodbus.simulator import SimDevice

from simulators.clock import Clock
from simulators.modbus_front import int16_word, register_device

HOLDING_COUNT = 7
INPUT_COUNT = 10
REG_MODE, REG_HEARTBEAT, REG_WATCHDOG_MS, REG_COMMAND = 3, 4, 5, 6
MODE_OFF, MODE_VELOCITY = 0, 1
CMD_FAULT_RESET = 1
THRUSTERS_ON, SATURATED, WATCHDOG, FAULT, LEAK, SUBMERGED = (1 << i for i in range(6))
FAULT_NONE, FAULT_THRUSTER, FAULT_LEAK, FAULT_WATCHDOG = 0, 1, 2, 3
DEFAULT_WATCHDOG_MS = 1000
MIN_WATCHDOG_MS = 50
INT16_MAX = 2**15 - 1

Vec = tuple[float, float, float]


def _int16(word: int) -> int:
    return word - 0x10000 if word & 0x8000 else word


def _clamp16(value: float) -> int:
    return max(-INT16_MAX - 1, min(INT16_MAX, round(value)))


class VehicleController:
    """Registers + onboard loop; the physics asks it for thrust every integration step."""

    def __init__(
        self,
        *,
        thrust_max_n: float,
        speed_max_m_s: float,
        kp_n_s_m: float,
        ki_n_m: float,
        t_s: float,
        on_command: Callable[[str], None] | None = None,
    ) -> None:
        self.thrust_max_n = thrust_max_n
        self.speed_max_m_s = speed_max_m_s
        self.kp = kp_n_s_m
        self.ki = ki_n_m
        self.on_command = on_command
        self.holding = [0] * HOLDING_COUNT
        self.fault_code = FAULT_NONE
        self.forced_fault = False
        self.watchdog_tripped = False
        self.heartbeat_s = t_s
        self.thrust_n: list[float] = [0.0, 0.0, 0.0]
        self._integral = [0.0, 0.0, 0.0]
        self.saturated = False
        self.changed = False  # a write that may wake the physics

    # -- registers ---------------------------------------------------------------------------
    def write_holding(self, address: int, values: list[int], t_s: float) -> None:
        """A holding-register write; HEARTBEAT changes feed the watchdog, COMMAND executes."""
        image = list(self.holding)
        image[address : address + len(values)] = values
        image = image[:HOLDING_COUNT]
        if image[REG_HEARTBEAT] != self.holding[REG_HEARTBEAT]:
            self.heartbeat_s = t_s
        if self.holding[REG_MODE] != MODE_VELOCITY and image[REG_MODE] == MODE_VELOCITY:
            self.heartbeat_s = t_s  # enabling starts the watchdog afresh
        self.holding = image
        self.changed = True
        if address <= REG_COMMAND < address + len(values):
            self.command(self.holding[REG_COMMAND])

    def command(self, code: int) -> None:
        if code == CMD_FAULT_RESET and not self.forced_fault:
            self.fault_code = FAULT_NONE
            self.watchdog_tripped = False
        if self.on_command is not None:
            self.on_command("FAULT_RESET" if code == CMD_FAULT_RESET else f"COMMAND {code}")

    def set_fault(self, active: bool) -> None:
        """Thruster fault (over-current): thrust off at once, latched until FAULT_RESET."""
        self.forced_fault = active
        if active:
            self.fault_code = FAULT_THRUSTER
            self._zero()
            if self.on_command is not None:
                self.on_command("HALT")

    @property
    def watchdog_s(self) -> float:
        ms = self.holding[REG_WATCHDOG_MS] or DEFAULT_WATCHDOG_MS
        return max(ms, MIN_WATCHDOG_MS) / 1000.0

    @property
    def enabled(self) -> bool:
        """Thrusters on: velocity mode and nothing latched."""
        return self.holding[REG_MODE] == MODE_VELOCITY and self.fault_code == FAULT_NONE

    def setpoint_m_s(self) -> Vec:
        lim = self.speed_max_m_s
        vx, vy, vz = (max(-lim, min(lim, _int16(w) / 1000.0)) for w in self.holding[0:3])
        return (vx, vy, vz)

    def check_watchdog(self, t_s: float) -> None:
        if self.enabled and t_s - self.heartbeat_s > self.watchdog_s:
            self.watchdog_tripped = True
            self.fault_code = FAULT_WATCHDOG
            self.holding[REG_MODE] = MODE_OFF
            self._zero()
            if self.on_command is not None:
                self.on_command("HALT")

    def _zero(self) -> None:
        self.thrust_n = [0.0, 0.0, 0.0]
        self._integral = [0.0, 0.0, 0.0]
        self.saturated = False

    def update(self, velocity_m_s: Vec, dt_s: float) -> Vec:
        """The onboard loop: thrust for the next ``dt_s`` from the measured velocity."""
        if not self.enabled:
            self._zero()
            return (0.0, 0.0, 0.0)
        sp = self.setpoint_m_s()
        lim = self.thrust_max_n
        saturated = False
        for i in range(3):
            err = sp[i] - velocity_m_s[i]
            raw = self.kp * err + self._integral[i]
            force = max(-lim, min(lim, raw))
            if force != raw:
                saturated = True
            if force == raw or (raw > lim) != (err > 0):  # anti-windup
                self._integral[i] += self.ki * err * dt_s
            self.thrust_n[i] = force
        self.saturated = saturated
        return (self.thrust_n[0], self.thrust_n[1], self.thrust_n[2])

    def input_registers(self, depth_m: float, submerged: bool, velocity_m_s: Vec) -> list[int]:
        """Input registers 0..9."""
        status = 0
        if self.enabled:
            status |= THRUSTERS_ON
        if self.saturated:
            status |= SATURATED
        if self.watchdog_tripped:
            status |= WATCHDOG
        if self.fault_code != FAULT_NONE:
            status |= FAULT
        if submerged:
            status |= SUBMERGED
        depth_mm = max(0, min(0xFFFF, round(depth_m * 1000.0)))
        return [
            status,
            self.fault_code,
            depth_mm,
            *(int16_word(_clamp16(v * 1000.0)) for v in velocity_m_s),
            *(int16_word(_clamp16(f * 100.0)) for f in self.thrust_n),
            self.holding[REG_HEARTBEAT],
        ]


def vehicle_device(
    device_id: int,
    registers: Callable[[float], list[int]],
    write: Callable[[int, list[int], float], None],
    holding: Callable[[], list[int]],
    clock: Clock,
    silent: Callable[[], bool],
) -> SimDevice:
    """The vehicle controller's Modbus face (``registers(t)`` brings the physics up to t)."""
    return register_device(
        device_id,
        input_count=INPUT_COUNT,
        holding_count=HOLDING_COUNT,
        read_inputs=registers,
        write_holding=write,
        holding=holding,
        clock=clock.now_s,
        silent=silent,
    )
