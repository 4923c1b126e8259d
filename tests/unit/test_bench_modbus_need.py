"""bench/modbus_need.py: the daemon's Modbus TCP need, derived from a config (pure)."""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

import pytest

from calibd.subsystems import house

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT / "bench") not in sys.path:
    sys.path.insert(0, str(ROOT / "bench"))

import modbus_need  # noqa: E402

CFG = {
    "mqtt": {"port": 1883},
    "house": {"io": {"endpoint": "tcp://h:1", "device_id": 1}, "valves": {"a": 0}},
    "a": {
        "poll_fast_hz": 50.0,
        "turntable": {"endpoint": "tcp://x:2", "device_id": 1},
        "units": [
            {"drive": {"endpoint": "tcp://x:2", "device_id": 2}, "load_cell": {"address": 1}},
            {"drive": {"endpoint": "tcp://x:2", "device_id": 3}},
        ],
        "laser": {"endpoint": "serial:///dev/ttyS0", "address": 1},
    },
    "r": {
        "poll_fast_hz": 20.0,
        "winch": {"endpoint": "tcp://y:3", "device_id": 1},
        "vehicle": {"endpoint": "tcp://y:3", "device_id": 2},
        "gauge": {"endpoint": "tcp://z:4", "device_id": 9},
    },
}


def test_devices_and_kinds() -> None:
    devs = {d.path: d for d in modbus_need.devices(CFG)}
    assert set(devs) == {
        "house.io",
        "a.turntable",
        "a.units[0].drive",
        "a.units[1].drive",
        "r.winch",
        "r.vehicle",
        "r.gauge",
    }  # serial devices (load cells, the laser) are not Modbus TCP
    assert devs["house.io"].kind == "io"
    assert devs["a.units[1].drive"].kind == "stepper"
    assert devs["r.vehicle"].kind == "vehicle"
    assert devs["r.gauge"].kind == "other"
    assert devs["house.io"].poll_hz == pytest.approx(1 / modbus_need.HOUSE_FAST_POLL_S)
    assert devs["r.winch"].poll_hz == 20.0


def test_need_per_endpoint_and_total() -> None:
    need = modbus_need.need(modbus_need.devices(CFG))
    assert need.by_endpoint == {
        "tcp://h:1": 100.0,  # FC02 + FC04 every 20 ms
        "tcp://x:2": 150.0,  # 3 status reads at 50 Hz
        "tcp://y:3": 60.0,  # winch 1 + vehicle 2 (status, setpoint) at 20 Hz
        "tcp://z:4": 20.0,  # an unknown device: 1 per poll
    }
    assert need.total_tx_s == 330.0
    assert need.busiest == "tcp://x:2"
    assert need.systems_by_endpoint["tcp://x:2"] == ["a"]
    assert need.tx_budget_ms == pytest.approx(1000 / 150)
    lines = modbus_need.derivation(modbus_need.devices(CFG))
    assert any(line.startswith("tcp://x:2:") and line.endswith("= 150 tx/s") for line in lines)


def test_a_config_without_modbus_is_refused() -> None:
    with pytest.raises(ValueError, match="no Modbus TCP device"):
        modbus_need.need(modbus_need.devices({"a": {"poll_fast_hz": 50.0}}))


def test_sim_toml_every_tcp_endpoint_is_counted() -> None:
    text = (ROOT / "config" / "sim.toml").read_text()
    need = modbus_need.need(modbus_need.devices(tomllib.loads(text)))
    assert set(need.by_endpoint) == set(re.findall(r'"(tcp://[^"]+)"', text))
    assert "acu" in need.systems_by_endpoint[need.busiest]


def test_house_fast_poll_matches_the_daemon() -> None:
    assert modbus_need.HOUSE_FAST_POLL_S == house._FAST_POLL_S
