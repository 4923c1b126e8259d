"""The simulator's view of the calibd TOML config (plus ``CALIBD_`` environment overrides)."""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

ENV_PREFIX = "CALIBD_"


class ConfigError(Exception):
    """The config file is missing or invalid."""


@dataclass(frozen=True)
class TcpEndpoint:
    """``tcp://HOST:PORT``: one Modbus TCP server."""

    host: str
    port: int


@dataclass(frozen=True)
class SerialEndpoint:
    """``serial:///PATH?baudrate=N``: one serial line (a pty symlink in the simulator)."""

    path: str
    baudrate: int


Endpoint = TcpEndpoint | SerialEndpoint


def parse_endpoint(text: str) -> Endpoint:
    """Parse an endpoint string; raise ValueError when malformed."""
    parts = urlsplit(text)
    if parts.scheme == "tcp":
        if not parts.hostname or parts.port is None:
            raise ValueError(f"tcp endpoint needs host and port: {text!r}")
        return TcpEndpoint(parts.hostname, parts.port)
    if parts.scheme == "serial":
        if not parts.path:
            raise ValueError(f"serial endpoint needs a path: {text!r}")
        baud = parse_qs(parts.query).get("baudrate", ["9600"])[0]
        return SerialEndpoint(parts.path, int(baud))
    raise ValueError(f"unknown endpoint scheme: {text!r}")


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _EndpointModel(_Model):
    endpoint: str

    @model_validator(mode="after")
    def _check_endpoint(self) -> _EndpointModel:
        parse_endpoint(self.endpoint)
        return self

    @property
    def parsed(self) -> Endpoint:
        """The parsed endpoint."""
        return parse_endpoint(self.endpoint)


class MqttCfg(_Model):
    host: str = "127.0.0.1"
    port: int = Field(1883, ge=1, le=65535)
    topic_root: str = "juno/calib"


class SimCfg(_Model):
    time_scale: float = Field(1.0, gt=0)
    seed: int = 1
    tension_noise_n: float = Field(0.003, ge=0)
    valve_travel_s: float = Field(3.0, gt=0)
    o2_ppm: float = 4.0
    radon_mbq_m3: float = 8.0


class ModbusDeviceCfg(_EndpointModel):
    device_id: int = Field(1, ge=1, le=247)


class LoadCellCfg(_EndpointModel):
    address: int = Field(ge=1, le=32)


class SpoolCfg(_Model):
    drum_radius_m: float = Field(gt=0)
    cable_diameter_m: float = Field(gt=0)
    turns_per_layer: int = Field(gt=0)
    cable_length_m: float = Field(gt=1.0)
    counts_per_rev: int = Field(gt=0)
    cable_ea_n: float = Field(gt=0)
    cable_weight_air_n_m: float = Field(ge=0)
    cable_weight_liquid_n_m: float = Field(ge=0)
    source_weight_air_n: float = Field(ge=0)
    source_weight_liquid_n: float = Field(ge=0)
    load_cell_range_n: float = Field(200.0, gt=0)


class UnitCfg(_Model):
    name: str
    angle_deg: float
    drive: ModbusDeviceCfg
    load_cell: LoadCellCfg
    spool: SpoolCfg | None = None


class TurntableCfg(ModbusDeviceCfg):
    counts_per_rev: int = Field(gt=0)
    gear_ratio: float = Field(gt=0)


class AcuCfg(_Model):
    valve: str | None = None
    z_park_m: float
    z_liquid_m: float
    z_valve_m: float
    turntable: TurntableCfg
    units: list[UnitCfg]
    spool: SpoolCfg

    def spool_of(self, unit: UnitCfg) -> SpoolCfg:
        """The unit's spool design (its override, else the common one)."""
        return unit.spool or self.spool


class HouseCfg(_Model):
    io: ModbusDeviceCfg | None = None
    valves: dict[str, int] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check_channels(self) -> HouseCfg:
        for name, channel in self.valves.items():
            if not 0 <= channel <= 7:
                raise ValueError(f"valve {name!r}: channel {channel} outside 0..7")
        return self


class SimConfig(_Model):
    mqtt: MqttCfg = MqttCfg()
    sim: SimCfg = SimCfg()
    house: HouseCfg = HouseCfg()
    acu: AcuCfg | None = None

    @model_validator(mode="after")
    def _check_acu_valve(self) -> SimConfig:
        if self.acu and self.acu.valve and self.acu.valve not in self.house.valves:
            raise ValueError(f"acu.valve {self.acu.valve!r} is not in [house.valves]")
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
