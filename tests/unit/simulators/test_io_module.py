"""IO module model: valve travel, switches, analog codecs."""

from __future__ import annotations

import random

from simulators.io_module import IoModule
from simulators.modbus_front import bits_to_words


def io() -> IoModule:
    module = IoModule({"acu": 0}, 3.0, 4.2, 8.5, random.Random(1), 0.0, temperature_c=21.37)
    module.noise_scale = 0.0
    return module


def test_golden_discrete_inputs_valve_closed() -> None:
    bits = io().discrete_inputs(0.0)
    assert len(bits) == 18
    # response bytes 02 00 03: VALVE_0_CLOSED, ESTOP_OK, N2_FLOW_OK
    words = bits_to_words(bits)
    assert bytes([words[0] & 0xFF, words[0] >> 8, words[1] & 0xFF]) == bytes.fromhex("020003")


def test_golden_analog_inputs() -> None:
    assert io().input_registers() == [0x002A, 0x0055, 0x0859]


def test_valve_travels_between_switches() -> None:
    module = io()
    module.write_coils(0, [True], 0.0)
    assert module.truth(1.0)["valves"] == {"acu": "moving"}
    assert module.discrete_inputs(1.0)[:2] == [False, False]
    assert not module.valve_open(0, 2.9)
    assert module.valve_open(0, 3.0)
    assert module.discrete_inputs(3.0)[:2] == [True, False]
    module.write_coils(0, [False], 4.0)
    module.valves[0].set_stuck(True, 5.0)
    assert module.valves[0].state(100.0) == "moving"
    module.valves[0].set_stuck(False, 100.0)
    assert module.valves[0].state(103.0) == "closed"
