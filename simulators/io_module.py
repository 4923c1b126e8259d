"""Calibration-house IO module (docs/hardware.md §3): gate valves, e-stop, environment."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping

from pymodbus.constants import ExcCodes
from pymodbus.simulator import SimDevice

from simulators.clock import Clock
from simulators.modbus_front import (
    COIL_FCS,
    FC_READ_COILS,
    FC_READ_DISCRETE,
    FC_READ_INPUT,
    bits_to_words,
    drop_request,
    in_range,
    int16_word,
    sim_device,
)

N_CHANNELS = 8
N_DISCRETE = 18
ESTOP_OK_BIT = 16
N2_FLOW_OK_BIT = 17
N_INPUT_REGS = 3
O2_HIGH_PPM = 25.0
TEMPERATURE_C = 21.0


class Valve:
    """A gate valve travelling ``travel_s`` (simulated) between its end switches."""

    def __init__(self, travel_s: float, t_s: float) -> None:
        self.travel_s = travel_s
        self.stuck = False
        self._pos0 = 0.0  # 0 closed … 1 open
        self._t0_s = t_s
        self._target = 0.0

    def position(self, t_s: float) -> float:
        """Opening fraction at ``t_s``."""
        if self.stuck:
            return self._pos0
        step = max(t_s - self._t0_s, 0.0) / self.travel_s
        if self._target > self._pos0:
            return min(self._pos0 + step, self._target)
        return max(self._pos0 - step, self._target)

    def drive(self, open_: bool, t_s: float) -> None:
        """Coil change: drive towards open or closed."""
        self._pos0, self._t0_s = self.position(t_s), t_s
        self._target = 1.0 if open_ else 0.0

    def set_stuck(self, stuck: bool, t_s: float) -> None:
        """Freeze (or release) the valve where it is."""
        self._pos0, self._t0_s = self.position(t_s), t_s
        self.stuck = stuck

    def state(self, t_s: float) -> str:
        """``open`` / ``closed`` / ``moving``."""
        pos = self.position(t_s)
        return "open" if pos >= 1.0 else "closed" if pos <= 0.0 else "moving"


class IoModule:
    """Coils, end switches, e-stop and environment monitors."""

    def __init__(
        self,
        valves: Mapping[str, int],
        travel_s: float,
        o2_ppm: float,
        radon_mbq_m3: float,
        rng: random.Random,
        t_s: float,
        temperature_c: float = TEMPERATURE_C,
    ) -> None:
        self.channels = dict(valves)
        self.coils = [False] * N_CHANNELS
        self.valves = {ch: Valve(travel_s, t_s) for ch in self.channels.values()}
        self.o2_ppm = o2_ppm
        self.radon_mbq_m3 = radon_mbq_m3
        self.estop_ok = True
        self.o2_high = False
        self.temperature_c = temperature_c
        self.noise_scale = 1.0  # 0: exact readings (tests)
        self._rng = rng

    def write_coils(self, address: int, values: list[bool], t_s: float) -> None:
        """Coil writes drive the valves."""
        for i, value in enumerate(values):
            ch = address + i
            self.coils[ch] = bool(value)
            if ch in self.valves:
                self.valves[ch].drive(bool(value), t_s)

    def valve_open(self, channel: int, t_s: float) -> bool:
        """Fully open (open end switch active)."""
        valve = self.valves.get(channel)
        return valve is not None and valve.position(t_s) >= 1.0

    def discrete_inputs(self, t_s: float) -> list[bool]:
        """Discrete inputs 0..17."""
        bits = [False] * N_DISCRETE
        for ch, valve in self.valves.items():
            pos = valve.position(t_s)
            bits[2 * ch] = pos >= 1.0
            bits[2 * ch + 1] = pos <= 0.0
        bits[ESTOP_OK_BIT] = self.estop_ok
        bits[N2_FLOW_OK_BIT] = True
        return bits

    def o2_now_ppm(self) -> float:
        """O₂ reading with noise."""
        base = O2_HIGH_PPM if self.o2_high else self.o2_ppm
        return max(base + self.noise_scale * self._rng.gauss(0.0, 0.05), 0.0)

    def radon_now_mbq_m3(self) -> float:
        """Radon reading with noise."""
        return max(self.radon_mbq_m3 + self.noise_scale * self._rng.gauss(0.0, 0.2), 0.0)

    def input_registers(self) -> list[int]:
        """O2 (0.1 ppm), RADON (0.1 mBq/m³), TEMPERATURE (0.01 °C)."""
        temp_c = self.temperature_c + self.noise_scale * self._rng.gauss(0.0, 0.02)
        return [
            min(round(self.o2_now_ppm() * 10), 0xFFFF),
            min(round(self.radon_now_mbq_m3() * 10), 0xFFFF),
            int16_word(round(temp_c * 100)),
        ]

    def truth(self, t_s: float) -> dict[str, object]:
        """The house truth payload body."""
        return {
            "valves": {name: self.valves[ch].state(t_s) for name, ch in self.channels.items()},
            "o2_ppm": O2_HIGH_PPM if self.o2_high else self.o2_ppm,
            "radon_mbq_m3": self.radon_mbq_m3,
            "estop_ok": self.estop_ok,
        }


def io_device(device_id: int, io: IoModule, clock: Clock, silent: Callable[[], bool]) -> SimDevice:
    """The IO module's Modbus face."""

    async def action(
        fc: int,
        _start: int,
        address: int,
        count: int,
        regs: list[int],
        values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        if silent():
            return drop_request(f"io device {device_id} silent (comm_loss)")
        now_s = clock.now_s()
        if fc in (FC_READ_COILS, FC_READ_DISCRETE) and address // 16 >= 2:
            return ExcCodes.ILLEGAL_ADDRESS  # bit reads: checked per 16-bit word only
        if fc in COIL_FCS:
            if values is not None and fc != FC_READ_COILS:
                if not in_range(address, len(values), N_CHANNELS):
                    return ExcCodes.ILLEGAL_ADDRESS
                io.write_coils(address, [bool(v) for v in values], now_s)
            regs[:1] = bits_to_words(io.coils)
            return None
        if fc == FC_READ_DISCRETE:
            regs[:2] = bits_to_words(io.discrete_inputs(now_s))
            return None
        if fc == FC_READ_INPUT:
            if not in_range(address, count, N_INPUT_REGS):
                return ExcCodes.ILLEGAL_ADDRESS
            regs[:N_INPUT_REGS] = io.input_registers()
            return None
        return ExcCodes.ILLEGAL_FUNCTION

    return sim_device(device_id, action)
