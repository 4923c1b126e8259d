"""pymodbus 3.16 SimDevice plumbing: word codecs, device builders (`register_device` for the
input + holding register devices), silent (dropped) requests."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Sequence

from pymodbus.constants import ExcCodes
from pymodbus.exceptions import NoSuchIdException
from pymodbus.simulator import DataType, SimData, SimDevice

# (function code, block start, request address, count, live registers, values written or None)
Action = Callable[
    [int, int, int, int, list[int], list[int] | list[bool] | None],
    Coroutine[None, None, ExcCodes | None],
]

FC_READ_COILS = 1
FC_READ_DISCRETE = 2
FC_READ_HOLDING = 3
FC_READ_INPUT = 4
FC_WRITE_COIL = 5
FC_WRITE_REGISTER = 6
FC_WRITE_COILS = 15
FC_WRITE_REGISTERS = 16
FC_READ_WRITE_REGISTERS = 23
TABLE_SIZE = 2048  # registers and bits; beyond it pymodbus itself answers ILLEGAL_ADDRESS
HOLDING_FCS = frozenset({FC_READ_HOLDING, FC_WRITE_REGISTER, FC_WRITE_REGISTERS, 22, 23})
COIL_FCS = frozenset({FC_READ_COILS, FC_WRITE_COIL, FC_WRITE_COILS})


def int32_words(value: int) -> list[int]:
    """Two's complement int32 as [high word, low word]."""
    raw = value & 0xFFFFFFFF
    return [raw >> 16, raw & 0xFFFF]


def uint32_from(words: Sequence[int]) -> int:
    """[high, low] → unsigned 32-bit."""
    return (words[0] << 16) | words[1]


def int32_from(words: Sequence[int]) -> int:
    """[high, low] → signed 32-bit."""
    raw = uint32_from(words)
    return raw - (1 << 32) if raw & 0x80000000 else raw


def int16_word(value: int) -> int:
    """Two's complement int16 as one register."""
    return value & 0xFFFF


def bits_to_words(bits: list[bool]) -> list[int]:
    """Bits (bit 0 first) → registers, 16 bits each, padded with zeros."""
    words = [0] * ((len(bits) + 15) // 16)
    for i, bit in enumerate(bits):
        if bit:
            words[i // 16] |= 1 << (i % 16)
    return words


def drop_request(reason: str) -> ExcCodes:
    """Make the server send no answer at all (raises; typed for use in ``return``)."""
    # The request handler answers nothing for NoSuchIdException when the server runs with
    # ignore_missing_devices=True: the client sees a silent device, as on a real bus.
    raise NoSuchIdException(reason)


def sim_device(device_id: int, action: Action) -> SimDevice:
    """A device with separate coil / discrete / holding / input tables.

    The tables span the whole address space so that every request reaches ``action``, which
    owns the real register map (ILLEGAL_ADDRESS outside it) and may drop the request.
    """
    bits = [SimData(0, values=[False] * TABLE_SIZE, datatype=DataType.BITS)]
    return SimDevice(
        id=device_id,
        simdata=(
            bits,
            list(bits),
            [SimData(0, count=TABLE_SIZE, datatype=DataType.REGISTERS)],
            [SimData(0, count=TABLE_SIZE, datatype=DataType.REGISTERS)],
        ),
        action=action,
    )


def in_range(address: int, count: int, size: int) -> bool:
    """Whether [address, address + count) lies inside a table of ``size`` entries."""
    return 0 <= address and address + count <= size


async def _silent(
    _fc: int,
    _start: int,
    _address: int,
    _count: int,
    _regs: list[int],
    _values: list[int] | list[bool] | None,
) -> ExcCodes | None:
    return drop_request("no such device on this bus")


def silent_catch_all() -> SimDevice:
    """Device id 0 (= every id not defined): requests to unknown ids get no answer."""
    return sim_device(0, _silent)


def register_device(
    device_id: int,
    *,
    input_count: int,
    holding_count: int,
    read_inputs: Callable[[float], list[int]],
    write_holding: Callable[[int, list[int], float], None],
    holding: Callable[[], list[int]],
    clock: Callable[[], float],
    silent: Callable[[], bool],
    heard: Callable[[float], None] | None = None,
) -> SimDevice:
    """A device with an input table (FC04) and a holding table (FC03/06/16/23) of the given
    sizes: ``read_inputs(t)`` brings the model up to t, ``write_holding`` applies a write,
    ``holding()`` is the image read back; ``heard(t)`` is told of every request it answers;
    ``silent()`` true = no answer at all (comm_loss)."""

    async def action(
        fc: int,
        _start: int,
        address: int,
        count: int,
        regs: list[int],
        values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        if silent():
            return drop_request(f"device {device_id} silent (comm_loss)")
        now_s = clock()
        if heard is not None:
            heard(now_s)
        if fc == FC_READ_INPUT:
            if not in_range(address, count, input_count):
                return ExcCodes.ILLEGAL_ADDRESS
            regs[:input_count] = read_inputs(now_s)
            return None
        if fc not in HOLDING_FCS:
            return ExcCodes.ILLEGAL_FUNCTION
        if not in_range(address, len(values) if values else count, holding_count):
            return ExcCodes.ILLEGAL_ADDRESS
        if values is not None and fc != FC_READ_HOLDING:
            write_holding(address, [int(v) for v in values], now_s)
        regs[:holding_count] = holding()
        return None

    return sim_device(device_id, action)
