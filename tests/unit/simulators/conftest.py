"""Helpers for the simulator tests: configs on free ports, pty symlinks in tmp_path."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from simulators.config import SimConfig, load_config

CONFIG_TEMPLATE = """
[mqtt]
host = "127.0.0.1"
port = {mqtt_port}
topic_root = "test/calib"

[log]
level = "INFO"

[sim]
time_scale = {time_scale}
seed = 7
tension_noise_n = 0.003
valve_travel_s = 3.0
o2_ppm = 4.0
radon_mbq_m3 = 8.0

[house]
valve_timeout_s = 10.0

[house.io]
endpoint = "tcp://127.0.0.1:{io_port}"
device_id = 1

[house.valves]
acu = 0

[acu]
valve = "acu"
z_park_m = 23.0
z_liquid_m = 19.5
z_valve_m = 21.5
speed_m_s = 0.05

[acu.turntable]
endpoint = "tcp://127.0.0.1:{acu_port}"
device_id = 1
counts_per_rev = 4096
gear_ratio = 50.0

[[acu.units]]
name = "A"
angle_deg = 0.0
drive = {{ endpoint = "tcp://127.0.0.1:{acu_port}", device_id = 2 }}
load_cell = {{ endpoint = "serial://{serial}?baudrate=9600", address = 1 }}

[[acu.units]]
name = "B"
angle_deg = 90.0
drive = {{ endpoint = "tcp://127.0.0.1:{acu_port}", device_id = 3 }}
load_cell = {{ endpoint = "serial://{serial}?baudrate=9600", address = 2 }}

[[acu.units]]
name = "C"
angle_deg = 180.0
drive = {{ endpoint = "tcp://127.0.0.1:{acu_port}", device_id = 4 }}
load_cell = {{ endpoint = "serial://{serial}?baudrate=9600", address = 3 }}

[[acu.units]]
name = "D"
angle_deg = 270.0
drive = {{ endpoint = "tcp://127.0.0.1:{acu_port}", device_id = 5 }}
load_cell = {{ endpoint = "serial://{serial}?baudrate=9600", address = 4 }}

[acu.spool]
drum_radius_m = 0.05
cable_diameter_m = 0.001
turns_per_layer = 40
cable_length_m = 48.0
counts_per_rev = 4096
cable_ea_n = 40000.0
cable_weight_air_n_m = 0.045
cable_weight_liquid_n_m = 0.040
source_weight_air_n = 1.96
source_weight_liquid_n = 1.72
load_cell_range_n = 200.0
"""


def free_port() -> int:
    """A currently free loopback TCP port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def write_config(tmp_path: Path, *, time_scale: float = 100.0, mqtt_port: int = 1) -> Path:
    """A full sim config on free ports with the load-cell line under ``tmp_path``."""
    path = tmp_path / "sim.toml"
    path.write_text(
        CONFIG_TEMPLATE.format(
            mqtt_port=mqtt_port,
            time_scale=time_scale,
            io_port=free_port(),
            acu_port=free_port(),
            serial=tmp_path / "dev" / "loadcells",
        )
    )
    return path


@pytest.fixture
def sim_config_path(tmp_path: Path) -> Path:
    """Path of a config written for this test."""
    return write_config(tmp_path)


@pytest.fixture
def sim_config(sim_config_path: Path) -> SimConfig:
    """The parsed config (no environment overrides)."""
    return load_config(sim_config_path, env={})
