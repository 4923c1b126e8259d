"""Config loading: TOML, environment overrides, endpoints, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulators.config import (
    ConfigError,
    SerialEndpoint,
    TcpEndpoint,
    load_config,
    parse_endpoint,
)

from .conftest import write_config

REPO_CONFIG = Path(__file__).parents[3] / "config" / "sim.toml"


def test_repo_sim_config_loads() -> None:
    cfg = load_config(REPO_CONFIG, env={})
    assert cfg.acu is not None
    assert [u.name for u in cfg.acu.units] == ["A", "B", "C", "D"]
    assert cfg.acu.turntable.gear_ratio == 50.0
    assert cfg.house.valves == {"acu": 0, "cls1": 1, "cls2": 2, "rov": 3}
    assert cfg.cls1 is not None and cfg.cls2 is not None and cfg.gt is not None
    assert cfg.cls1.valve == "cls1" and cfg.gt.valve is None
    assert cfg.sim.time_scale == 20.0


def test_env_overrides_nested_and_json(sim_config_path: Path) -> None:
    env = {
        "CALIBD_SIM__TIME_SCALE": "5",
        "CALIBD_MQTT__TOPIC_ROOT": "x/y",
        "CALIBD_ACU__TURNTABLE__DEVICE_ID": "9",
        "OTHER": "1",
    }
    cfg = load_config(sim_config_path, env=env)
    assert cfg.sim.time_scale == 5.0
    assert cfg.mqtt.topic_root == "x/y"
    assert cfg.acu is not None
    assert cfg.acu.turntable.device_id == 9


def test_endpoints() -> None:
    assert parse_endpoint("tcp://127.0.0.1:15020") == TcpEndpoint("127.0.0.1", 15020)
    assert parse_endpoint("serial:///tmp/x/lc?baudrate=19200") == SerialEndpoint("/tmp/x/lc", 19200)
    with pytest.raises(ValueError, match="scheme"):
        parse_endpoint("udp://h:1")


def test_errors_are_readable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.toml", env={})
    bad = tmp_path / "bad.toml"
    bad.write_text("[sim\n")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_config(bad, env={})
    bad.write_text('[mqtt]\nport = "x"\n')
    with pytest.raises(ConfigError, match=r"mqtt\.port"):
        load_config(bad, env={})


@pytest.mark.parametrize(
    ("endpoint", "toml_path", "reason"),
    [
        ("tcp://10.1.2.3:502", "house.io.endpoint", "loopback only, not on host '10.1.2.3'"),
        ("tcp://calib-gw.example:502", "house.io.endpoint", "loopback only"),
        ("tcp://0.0.0.0:15030", "house.io.endpoint", "loopback only"),
        ("serial:///dev/ttyUSB0", "acu.units.0.load_cell.endpoint", "'/dev/ttyUSB0' is under"),
        ("serial:////dev/ttyS0", "acu.units.0.load_cell.endpoint", "under /dev/"),
        ("serial:///tmp/../dev/ttyS0", "acu.units.0.load_cell.endpoint", "under /dev/"),
    ],
)
def test_real_hardware_endpoints_are_refused(
    tmp_path: Path, endpoint: str, toml_path: str, reason: str
) -> None:
    """calibsim serves Modbus TCP on loopback and ptys only: never a network interface, never a
    device node; the error names the TOML path."""
    path = write_config(tmp_path)
    text = path.read_text()
    if endpoint.startswith("tcp"):
        old = next(line for line in text.splitlines() if line.startswith('endpoint = "tcp://'))
        text = text.replace(old, f'endpoint = "{endpoint}"')
    else:
        old = f"serial://{tmp_path / 'dev' / 'loadcells'}?baudrate=9600"
        text = text.replace(old, endpoint, 1)
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    assert f"{toml_path}: Value error, calibsim serves" in str(info.value)
    assert reason in str(info.value)
    assert endpoint in str(info.value)


def test_an_environment_override_to_real_hardware_is_refused(sim_config_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"house\.io\.endpoint: .*loopback only"):
        load_config(sim_config_path, env={"CALIBD_HOUSE__IO__ENDPOINT": "tcp://192.168.1.5:502"})


@pytest.mark.parametrize("host", ["localhost", "127.0.0.2", "[::1]"])
def test_every_loopback_spelling_is_served(tmp_path: Path, host: str) -> None:
    path = write_config(tmp_path)
    text = path.read_text().replace('endpoint = "tcp://127.0.0.1:', f'endpoint = "tcp://{host}:', 1)
    path.write_text(text)
    cfg = load_config(path, env={})
    assert cfg.house.io is not None
    assert cfg.house.io.endpoint.startswith(f"tcp://{host}:")
