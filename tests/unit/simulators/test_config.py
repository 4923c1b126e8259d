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
