"""The calibration-house IO module over Modbus (docs/hardware.md section 3)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from drivers.bus import RegisterBus
from drivers.errors import ProtocolError, attributed_to

VALVE_CHANNELS = 8
DISCRETE_INPUT_COUNT = 18  # 2 end switches x 8 valves, ESTOP_OK, N2_FLOW_OK
INPUT_REGISTER_COUNT = 3  # O2, RADON, TEMPERATURE
DI_ESTOP_OK = 16
DI_N2_FLOW_OK = 17


@dataclass(frozen=True)
class IoSnapshot:
    """End switches of the 8 valves, the e-stop circuit and the environment monitors."""

    valve_opened: tuple[bool, ...]
    valve_closed: tuple[bool, ...]
    estop_ok: bool
    n2_flow_ok: bool
    o2_ppm: float
    radon_mbq_m3: float
    temperature_c: float


def decode_inputs(
    bits: Sequence[bool], regs: Sequence[int], *, device: str = "io module"
) -> IoSnapshot:
    """Decode discrete inputs 0..17 and input registers 0..2."""
    if len(bits) != DISCRETE_INPUT_COUNT:
        raise ProtocolError(f"expected 18 discrete inputs, got {len(bits)}", device=device)
    if len(regs) != INPUT_REGISTER_COUNT or any(not 0 <= r <= 0xFFFF for r in regs):
        raise ProtocolError(f"expected 3 uint16 input registers, got {regs!r}", device=device)
    temperature_raw = regs[2] - 0x10000 if regs[2] & 0x8000 else regs[2]
    return IoSnapshot(
        valve_opened=tuple(bool(bits[2 * k]) for k in range(VALVE_CHANNELS)),
        valve_closed=tuple(bool(bits[2 * k + 1]) for k in range(VALVE_CHANNELS)),
        estop_ok=bool(bits[DI_ESTOP_OK]),
        n2_flow_ok=bool(bits[DI_N2_FLOW_OK]),
        o2_ppm=regs[0] / 10,
        radon_mbq_m3=regs[1] / 10,
        temperature_c=temperature_raw / 100,
    )


class IoModule:
    """The house IO module on a (possibly shared) Modbus bus."""

    def __init__(self, bus: RegisterBus, device_id: int, *, name: str) -> None:
        self.name = name
        self._bus = bus
        self._device_id = device_id

    async def read(self) -> IoSnapshot:
        """FC02 inputs 0..17, then FC04 registers 0..2."""
        with attributed_to(self.name):
            bits = await self._bus.read_discrete_inputs(self._device_id, 0, DISCRETE_INPUT_COUNT)
            regs = await self._bus.read_input_registers(self._device_id, 0, INPUT_REGISTER_COUNT)
        return decode_inputs(bits, regs, device=self.name)

    async def set_valve(self, channel: int, open_: bool) -> None:
        """FC05 VALVE_k_OPEN: drive valve ``channel`` open (True) or closed (False)."""
        _check_channel(channel)
        with attributed_to(self.name):
            await self._bus.write_coil(self._device_id, channel, open_)

    async def read_valve_commands(self) -> tuple[bool, ...]:
        """FC01 coils 0..7: the commanded state of every valve."""
        with attributed_to(self.name):
            coils = await self._bus.read_coils(self._device_id, 0, VALVE_CHANNELS)
        return tuple(coils)


def _check_channel(channel: int) -> None:
    if not 0 <= channel < VALVE_CHANNELS:
        raise ValueError(f"valve channel must be 0..7, not {channel}")
