"""The simulator's view of the calibd TOML config (plus ``CALIBD_`` environment overrides)."""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, model_validator

from simulators.config_base import (
    ConfigError,
    Endpoint,
    LoadCellCfg,
    ModbusDeviceCfg,
    Model,
    MqttCfg,
    SerialEndpoint,
    SimCfg,
    SpoolCfg,
    TcpEndpoint,
    parse_endpoint,
    serial_path,
)
from simulators.config_cls import ClsCfg
from simulators.config_gt import GtCfg
from simulators.config_laser import LaserCfg
from simulators.config_rov import RovCfg
from simulators.config_thermometer import ThermometerCfg

__all__ = [
    "AcuCfg",
    "ClsCfg",
    "ConfigError",
    "Endpoint",
    "GtCfg",
    "HouseCfg",
    "LoadCellCfg",
    "ModbusDeviceCfg",
    "MqttCfg",
    "RovCfg",
    "SerialEndpoint",
    "SimCfg",
    "SimConfig",
    "SpoolCfg",
    "TcpEndpoint",
    "TurntableCfg",
    "UnitCfg",
    "load_config",
    "parse_endpoint",
    "serial_path",
]

ENV_PREFIX = "CALIBD_"


class UnitCfg(Model):
    name: str
    angle_deg: float
    drive: ModbusDeviceCfg
    load_cell: LoadCellCfg
    spool: SpoolCfg | None = None


class TurntableCfg(ModbusDeviceCfg):
    counts_per_rev: int = Field(gt=0)
    gear_ratio: float = Field(gt=0)


class AcuCfg(Model):
    valve: str | None = None
    z_park_m: float
    z_liquid_m: float
    z_valve_m: float
    turntable: TurntableCfg
    units: list[UnitCfg]
    spool: SpoolCfg
    laser: LaserCfg | None = None
    thermometer: ThermometerCfg | None = None

    def spool_of(self, unit: UnitCfg) -> SpoolCfg:
        """The unit's spool design (its override, else the common one)."""
        return unit.spool or self.spool


class HouseCfg(Model):
    io: ModbusDeviceCfg | None = None
    valves: dict[str, int] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check_channels(self) -> HouseCfg:
        for name, channel in self.valves.items():
            if not 0 <= channel <= 7:
                raise ValueError(f"valve {name!r}: channel {channel} outside 0..7")
        return self


class SimConfig(Model):
    mqtt: MqttCfg = MqttCfg()
    sim: SimCfg = SimCfg()
    house: HouseCfg = HouseCfg()
    acu: AcuCfg | None = None
    cls1: ClsCfg | None = None
    cls2: ClsCfg | None = None
    gt: GtCfg | None = None
    rov: RovCfg | None = None

    @model_validator(mode="after")
    def _check_valves(self) -> SimConfig:
        for name in ("acu", "cls1", "cls2", "gt", "rov"):
            system = getattr(self, name)
            valve = getattr(system, "valve", None)
            if valve is not None and valve not in self.house.valves:
                raise ValueError(f"{name}.valve {valve!r} is not in [house.valves]")
        return self


def _env_value(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def apply_env(data: dict[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    """Merge ``CALIBD_SECTION__KEY=value`` overrides into a TOML dict (in place)."""
    for name, raw in sorted(env.items()):
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        keys = [k.lower() for k in name[len(ENV_PREFIX) :].split("__")]
        node = data
        for key in keys[:-1]:
            child = node.get(key)
            if not isinstance(child, dict):
                child = {}
                node[key] = child
            node = child
        node[keys[-1]] = _env_value(raw)
    return data


def load_config(path: str | Path, env: Mapping[str, str] | None = None) -> SimConfig:
    """Read and validate the config; raise ConfigError with a readable message."""
    try:
        text = Path(path).read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from exc
    apply_env(data, os.environ if env is None else env)
    try:
        return SimConfig.model_validate(data)
    except ValidationError as exc:
        lines = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        raise ConfigError(f"{path}: invalid config:\n  " + "\n  ".join(lines)) from exc
