"""Shared pieces of the simulator's config: endpoints, device and spool models."""

from __future__ import annotations

import ipaddress
import posixpath
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator


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


def not_simulated(ep: Endpoint) -> str | None:
    """Why calibsim refuses to serve ``ep``, or None: it serves Modbus TCP on loopback and
    ptys (symlinks it creates), never a network interface or a device node under ``/dev/``
    (the daemon's rule for a simulated endpoint, docs/hardware.md)."""
    if isinstance(ep, TcpEndpoint):
        if ep.host.lower() == "localhost":
            return None
        try:
            loopback = ipaddress.ip_address(ep.host).is_loopback
        except ValueError:
            loopback = False
        if loopback:
            return None
        return f"calibsim serves Modbus TCP on loopback only, not on host {ep.host!r}"
    path = posixpath.normpath("/" + ep.path.lstrip("/"))
    if path == "/dev" or path.startswith("/dev/"):
        return f"calibsim serves ptys, never a device node: {ep.path!r} is under /dev/"
    return None


def serial_path(text: str) -> str:
    """The pty path of a ``serial://`` endpoint; ConfigError for anything else."""
    ep = parse_endpoint(text)
    if not isinstance(ep, SerialEndpoint):
        raise ConfigError(f"{text}: a serial device needs a serial:// endpoint")
    return ep.path


class Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class EndpointModel(Model):
    endpoint: str

    @field_validator("endpoint")
    @classmethod
    def _check_endpoint(cls, text: str) -> str:
        reason = not_simulated(parse_endpoint(text))
        if reason is not None:
            raise ValueError(f"{reason} ({text!r})")
        return text

    @property
    def parsed(self) -> Endpoint:
        """The parsed endpoint."""
        return parse_endpoint(self.endpoint)


class MqttTlsCfg(Model):
    """`[mqtt.tls]`: present means TLS; the broker's certificate and name always verified."""

    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None


class MqttAccountCfg(Model):
    """`[mqtt.sim]`: the simulator rack's own broker account (docs/broker.md)."""

    username: str
    password: str | None = Field(None, repr=False)
    password_file: str | None = None


class MqttCfg(Model):
    host: str = "127.0.0.1"
    port: int = Field(1883, ge=1, le=65535)
    topic_root: str = "juno/calib"
    tls: MqttTlsCfg | None = None
    #: calibsim logs in with this account; without it anonymously (dev, tests), never with the
    #: daemon's `[mqtt] username`/`password`
    sim: MqttAccountCfg | None = None


class SimCfg(Model):
    time_scale: float = Field(1.0, gt=0)
    seed: int = 1
    tension_noise_n: float = Field(0.003, ge=0)
    valve_travel_s: float = Field(3.0, gt=0)
    o2_ppm: float = 4.0
    radon_mbq_m3: float = 8.0


class ModbusDeviceCfg(EndpointModel):
    device_id: int = Field(1, ge=1, le=247)


class LoadCellCfg(EndpointModel):
    address: int = Field(ge=1, le=32)


class SpoolCfg(Model):
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
