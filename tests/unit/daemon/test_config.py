"""Configuration: TOML + env overrides, errors with their TOML path, the committed schema."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from calibd.__main__ import main
from calibd.config import ConfigError, json_schema, load_config

ROOT = Path(__file__).resolve().parents[3]
SIM = ROOT / "config" / "sim.toml"


def test_sim_config_loads_and_is_frozen() -> None:
    s = load_config(SIM)
    assert s.acu is not None
    assert s.acu.units[1].name == "B"
    assert s.acu.spool_of("B").drum_radius_m == 0.05
    with pytest.raises(ValueError, match="frozen"):
        s.mqtt.port = 1  # type: ignore[misc]


def test_env_overrides_one_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALIBD_MQTT__PORT", "8883")
    monkeypatch.setenv("CALIBD_STATE__DIR", "/srv/calibd")
    monkeypatch.setenv("CALIBD_SIM__TIME_SCALE", "7")
    s = load_config(SIM)
    assert s.mqtt.port == 8883 and s.mqtt.host == "127.0.0.1"
    assert str(s.state.dir) == "/srv/calibd"
    assert s.sim.time_scale == 7


def _write(tmp_path: Path, old: str, new: str) -> Path:
    text = SIM.read_text()
    assert old in text
    p = tmp_path / "c.toml"
    p.write_text(text.replace(old, new))
    return p


@pytest.mark.parametrize(
    ("old", "new", "path"),
    [
        ("port = 1883", "port = 99999", "mqtt.port"),
        ("port = 1883", "prot = 1883", "mqtt.prot"),
        ('name = "B"', 'name = "b"', "acu.units.1.name"),
        ("drum_radius_m = 0.05", 'drum_radius_m = "big"', "acu.spool.drum_radius_m"),
        (
            'endpoint = "tcp://127.0.0.1:15020", device_id = 2',
            'endpoint = "udp://x", device_id = 2',
            "acu.units.0.drive",
        ),
        ('valve = "acu"', 'valve = "nope"', "(top level)"),
        ("z_min_m = -17.4", "z_min_m = -18.0", "acu.z_min_m"),
    ],
)
def test_errors_name_the_toml_path(tmp_path: Path, old: str, new: str, path: str) -> None:
    with pytest.raises(ConfigError) as exc:
        load_config(_write(tmp_path, old, new))
    assert any(line.startswith(path) for line in exc.value.errors), exc.value.errors


def test_time_scale_refused_with_real_hardware(tmp_path: Path) -> None:
    p = _write(tmp_path, "tcp://127.0.0.1:15030", "tcp://10.1.2.3:502")
    with pytest.raises(ConfigError) as exc:
        load_config(p)
    assert "time_scale" in str(exc.value)


def test_the_drive_watchdog_must_fit_the_drive_register(monkeypatch: pytest.MonkeyPatch) -> None:
    """COMM_TIMEOUT counts 10 ms steps in a uint16 of drive time: at time_scale 1000 the
    default 1 s would be 1000 s. Refused with both keys named; off (0) is always fine."""
    monkeypatch.setenv("CALIBD_SIM__TIME_SCALE", "1000")
    with pytest.raises(ConfigError) as exc:
        load_config(SIM)
    assert "interlocks.drive_watchdog_s x sim.time_scale = 1000 s" in str(exc.value)
    monkeypatch.setenv("CALIBD_INTERLOCKS__DRIVE_WATCHDOG_S", "0")
    assert load_config(SIM).interlocks.drive_watchdog_s == 0
    monkeypatch.setenv("CALIBD_INTERLOCKS__DRIVE_WATCHDOG_S", "0.6")
    assert load_config(SIM).interlocks.drive_watchdog_s == 0.6  # 600 s of drive time


def test_missing_and_broken_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such configuration file"):
        load_config(tmp_path / "absent.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[mqtt\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)


def test_check_config_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as ok:
        main(["check-config", str(SIM)])
    assert ok.value.code == 0
    with pytest.raises(SystemExit) as bad:
        main(["check-config", str(_write(tmp_path, "port = 1883", "port = 0"))])
    assert bad.value.code == 1
    assert "mqtt.port" in capsys.readouterr().err


def test_committed_schema_is_current() -> None:
    committed = json.loads((ROOT / "config" / "schema.json").read_text())
    assert committed == json_schema(), "config/schema.json is stale: run `make schema`"


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (  # one serial line, two baud rates
            'acu-loadcells?baudrate=9600", address = 2',
            'acu-loadcells?baudrate=19200", address = 2',
            "serial line /tmp/calibsim/acu-loadcells has two baud rates: 9600 at"
            " acu.units.0.load_cell.endpoint and 19200 at acu.units.1.load_cell.endpoint",
        ),
        (  # one Modbus TCP endpoint, two spellings of loopback
            'endpoint = "tcp://127.0.0.1:15020", device_id = 3',
            'endpoint = "tcp://localhost:15020", device_id = 3',
            "one Modbus TCP endpoint spelled two ways: 'tcp://127.0.0.1:15020' at"
            " acu.turntable.endpoint and 'tcp://localhost:15020' at acu.units.1.drive.endpoint",
        ),
        (
            'endpoint = "tcp://127.0.0.1:15020", device_id = 3',
            'endpoint = "tcp://[::1]:15020", device_id = 3',
            "at acu.turntable.endpoint and 'tcp://[::1]:15020' at acu.units.1.drive.endpoint",
        ),
        (  # two devices answering one id on one bus
            'endpoint = "tcp://127.0.0.1:15020", device_id = 3',
            'endpoint = "tcp://127.0.0.1:15020", device_id = 2',
            "device id 2 twice on one bus: acu.units.0.drive.endpoint",
        ),
        (
            'acu-loadcells?baudrate=9600", address = 2',
            'acu-loadcells?baudrate=9600", address = 1',
            "address 1 twice on one bus: acu.units.0.load_cell.endpoint",
        ),
    ],
)
def test_one_bus_has_one_owner(tmp_path: Path, old: str, new: str, message: str) -> None:
    """Buses are owned per (path, baud rate) and (host, port): two spellings of one bus would
    get two owners on one wire, so the configuration names both TOML paths and is refused."""
    with pytest.raises(ConfigError) as exc:
        load_config(_write(tmp_path, old, new))
    assert any(line.startswith("(top level)") and message in line for line in exc.value.errors), (
        exc.value.errors
    )


def test_other_hosts_and_lines_are_other_buses(tmp_path: Path) -> None:
    text = SIM.read_text().replace("acu-laser?baudrate=9600", "acu-laser?baudrate=19200")
    text = text.replace('endpoint = "tcp://127.0.0.1:15030"', 'endpoint = "tcp://127.0.0.2:15020"')
    p = tmp_path / "c.toml"
    p.write_text(text)
    s = load_config(p)
    assert s.house.io.endpoint == "tcp://127.0.0.2:15020"
    assert s.acu is not None and s.acu.laser is not None
    assert s.acu.laser.endpoint.endswith("baudrate=19200")
