"""Configuration: TOML parsed once into frozen pydantic models, `CALIBD_SECTION__KEY` overrides."""

from __future__ import annotations

import math
import os
import tomllib
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Self

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from calibd.cfg_buses import bus_conflicts, device_refs
from calibd.cfg_cls import ClsCfg
from calibd.cfg_gt import GtCfg
from calibd.cfg_interlocks import InterlocksCfg
from calibd.cfg_inventory import InventoryCfg
from calibd.cfg_laser import LaserCfg
from calibd.cfg_mqtt import (
    MqttAccountCfg,
    MqttTlsCfg,
    SecretFileError,
    read_secret,
    tls_context_of,
)
from calibd.cfg_program import ProgramCfg
from calibd.cfg_rov import RovCfg
from calibd.cfg_thermometer import ThermometerCfg
from calibd.cfgbase import ModbusDeviceCfg, SerialDeviceCfg, SpoolCfg, Strict
from drivers.endpoint import is_simulated, parse_endpoint
from drivers.stepper import COMM_TIMEOUT_MAX_S

__all__ = [
    "AcuCfg",
    "ClsCfg",
    "ConfigError",
    "GtCfg",
    "HouseCfg",
    "ModbusDeviceCfg",
    "RovCfg",
    "SerialDeviceCfg",
    "Settings",
    "SpoolCfg",
    "UnitCfg",
    "load_config",
]

_TOML_PATH: ContextVar[Path | None] = ContextVar("calibd_toml_path", default=None)


class ConfigError(Exception):
    """The configuration is invalid; `errors` holds one `path: message` line per problem."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


class MqttCfg(Strict):
    host: str = "127.0.0.1"
    port: int = Field(1883, ge=1, le=65535)
    topic_root: str = Field("juno/calib", min_length=1, pattern=r"^[^#+]+$")
    client_id: str = "calibd"
    username: str | None = None
    password: SecretStr | None = None
    password_file: Path | None = Field(None, description="read once at start (first line)")
    tls: MqttTlsCfg | None = Field(None, description="present: TLS to the broker")
    sim: MqttAccountCfg | None = Field(None, description="calibsim's own broker account")
    keepalive_s: int = Field(10, ge=1, le=600)
    publish_timeout_s: float = Field(2.0, gt=0)
    reconnect_initial_s: float = Field(0.2, gt=0)
    reconnect_max_s: float = Field(10.0, gt=0)
    inbound_queue: int = Field(256, ge=8, le=65536)
    outbound_queue: int = Field(4096, ge=64, le=1_000_000)

    @model_validator(mode="after")
    def _one_password(self) -> Self:
        if self.password is not None and self.password_file is not None:
            raise ValueError("set password or password_file, not both")
        return self

    def with_secrets(self) -> MqttCfg:
        """At start: `password_file` read into `password`, the TLS files checked."""
        try:
            if self.tls is not None:
                tls_context_of(self.tls)
            if self.password_file is None:
                return self
            secret = read_secret(self.password_file)
        except SecretFileError as exc:
            raise ConfigError([f"mqtt: {exc}"]) from None
        return self.model_copy(update={"password": secret, "password_file": None})


class StateCfg(Strict):
    dir: Path = Path("/var/lib/calibd")
    recovery_tolerance_counts: float = Field(
        64,
        gt=0,
        le=100_000,
        description="restart recovery: how far (encoder counts) a drive may read outside the"
        " range the store knows for it before the system latches position_mismatch",
    )


class LogCfg(Strict):
    level: str = Field("INFO", pattern=r"^(DEBUG|INFO|WARNING|ERROR)$")
    json_output: bool | None = Field(None, description="None: JSON unless stdout is a TTY")


class SimCfg(Strict):
    """Simulator settings; read by calibsim, and `time_scale` by the daemon too."""

    time_scale: float = Field(1.0, gt=0, le=1000)
    seed: int = 1
    tension_noise_n: float = Field(0.003, ge=0)
    valve_travel_s: float = Field(3.0, gt=0)
    o2_ppm: float = Field(4.0, ge=0)
    radon_mbq_m3: float = Field(8.0, ge=0)


class HouseCfg(Strict):
    io: ModbusDeviceCfg
    valves: dict[str, int] = Field(default_factory=dict)
    valve_timeout_s: float = Field(10.0, gt=0)
    poll_s: float = Field(0.1, gt=0, le=5.0, description="idle poll: the e-stop input and O2/radon")

    @model_validator(mode="after")
    def _channels(self) -> Self:
        channels = list(self.valves.values())
        if any(not 0 <= c <= 7 for c in channels):
            raise ValueError("valve channels are 0..7")
        if len(set(channels)) != len(channels):
            raise ValueError("two valves share a channel")
        return self


class TurntableCfg(ModbusDeviceCfg):
    counts_per_rev: int = Field(ge=1)
    gear_ratio: float = Field(gt=0)
    speed_deg_s: float = Field(gt=0, le=90)
    accel_deg_s2: float = Field(gt=0)


class UnitCfg(Strict):
    name: str = Field(pattern=r"^[A-Z]$")
    angle_deg: float = Field(ge=0, lt=360)
    drive: ModbusDeviceCfg
    load_cell: SerialDeviceCfg
    spool: SpoolCfg | None = None


class AcuCfg(Strict):
    valve: str
    poll_fast_hz: float = Field(50.0, ge=1, le=500)
    poll_idle_s: float = Field(0.5, gt=0, le=5)
    z_park_m: float
    z_liquid_m: float
    z_valve_m: float
    z_min_m: float = Field(ge=-17.7)
    z_max_m: float
    speed_m_s: float = Field(gt=0, le=1.0)
    accel_m_s2: float = Field(gt=0)
    home_speed_m_s: float = Field(gt=0, le=1.0)
    position_tolerance_m: float = Field(0.0005, gt=0)
    snag_factor: float = Field(3.0, gt=1)
    slack_factor: float = Field(0.4, gt=0, lt=1)
    tension_floor_n: float = Field(0.5, ge=0)
    move_margin_s: float = Field(5.0, ge=0)
    turntable: TurntableCfg
    units: list[UnitCfg] = Field(min_length=1, max_length=8)
    spool: SpoolCfg
    laser: LaserCfg | None = Field(None, description="the UV laser of one unit (hardware.md §8)")
    thermometer: ThermometerCfg | None = Field(
        None, description="the temperature-profile sensor on one unit (hardware.md §9)"
    )

    @model_validator(mode="after")
    def _geometry(self) -> Self:
        names = [u.name for u in self.units]
        if len(set(names)) != len(names):
            raise ValueError("unit names must be unique")
        if not self.z_min_m < self.z_max_m < self.z_valve_m < self.z_park_m:
            raise ValueError("need z_min_m < z_max_m < z_valve_m < z_park_m")
        for unit in self.units:
            spool = self.spool_of(unit.name)
            if spool.cable_length_m < self.z_park_m - self.z_min_m + 1.0:
                raise ValueError(
                    f"unit {unit.name}: cable_length_m too short to reach z_min_m with 1 m spare"
                )
        return self

    @model_validator(mode="after")
    def _laser_unit(self) -> Self:
        laser = self.laser
        if laser is not None and laser.unit not in {u.name for u in self.units}:
            raise ValueError(f"laser.unit {laser.unit!r} is not one of the ACU's units")
        if laser is not None and laser.z_emit_max_m is not None:
            if not self.z_min_m <= laser.z_emit_max_m < self.z_valve_m:
                raise ValueError("need z_min_m <= laser.z_emit_max_m < z_valve_m")
        return self

    @model_validator(mode="after")
    def _thermometer(self) -> Self:
        sensor = self.thermometer
        if sensor is not None and sensor.unit not in {u.name for u in self.units}:
            raise ValueError(f"thermometer.unit {sensor.unit!r} is not one of the ACU's units")
        if sensor is not None and sensor.max_speed_m_s > self.speed_m_s:
            raise ValueError("need thermometer.max_speed_m_s <= speed_m_s")
        return self

    def endpoints(self) -> list[str]:
        """Every hardware endpoint of the ACU."""
        eps = [self.turntable.endpoint]
        for u in self.units:
            eps += [u.drive.endpoint, u.load_cell.endpoint]
        if self.laser is not None:
            eps.append(self.laser.endpoint)
        if self.thermometer is not None:
            eps.append(self.thermometer.endpoint)
        return eps

    def spool_of(self, unit: str) -> SpoolCfg:
        for u in self.units:
            if u.name == unit:
                return u.spool or self.spool
        raise KeyError(unit)


SystemCfg = AcuCfg | ClsCfg | GtCfg | RovCfg


class Settings(BaseSettings):
    """The whole configuration of one calibd instance (and of its simulator rack)."""

    model_config = SettingsConfigDict(
        env_prefix="CALIBD_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    mqtt: MqttCfg = MqttCfg()
    state: StateCfg = StateCfg()
    log: LogCfg = LogCfg()
    sim: SimCfg = SimCfg()
    interlocks: InterlocksCfg = InterlocksCfg()
    inventory: InventoryCfg = InventoryCfg()
    program: ProgramCfg = ProgramCfg()
    house: HouseCfg
    acu: AcuCfg | None = None
    cls1: ClsCfg | None = None
    cls2: ClsCfg | None = None
    gt: GtCfg | None = None
    rov: RovCfg | None = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        path = _TOML_PATH.get()
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)

    @model_validator(mode="after")
    def _cross(self) -> Self:
        for name, system in self.systems().items():
            if system.valve is not None and system.valve not in self.house.valves:
                raise ValueError(f"{name}.valve {system.valve!r} is not in house.valves")
        for src in self.inventory.sources:
            slot = src.slot
            if slot is None:
                continue
            host, unit = slot
            if host not in self.systems():
                raise ValueError(f"inventory source {src.id!r} is mounted on unconfigured {host}")
            if host == "acu" and self.acu is not None:
                if unit not in {u.name for u in self.acu.units}:
                    raise ValueError(f"inventory source {src.id!r}: the ACU has no unit {unit}")
        unknown = set(self.interlocks.run_permit.required_for) - set(self.systems())
        if unknown:
            raise ValueError(
                f"interlocks.run_permit.required_for names unconfigured systems {sorted(unknown)}"
            )
        watchdog_s = self.interlocks.drive_watchdog_s * self.sim.time_scale
        if watchdog_s > COMM_TIMEOUT_MAX_S:
            raise ValueError(
                f"interlocks.drive_watchdog_s x sim.time_scale = {watchdog_s:g} s of drive time: "
                f"a drive's COMM_TIMEOUT holds at most {COMM_TIMEOUT_MAX_S:.2f} s"
            )
        if not math.isclose(self.sim.time_scale, 1.0):
            real = [ep for ep in self.endpoints() if not is_simulated(parse_endpoint(ep))]
            if real:
                raise ValueError(
                    f"sim.time_scale != 1 is refused with real hardware endpoints: {real}"
                )
        return self

    @model_validator(mode="after")
    def _one_owner_per_bus(self) -> Self:
        problems = bus_conflicts(device_refs(self))
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def systems(self) -> dict[str, SystemCfg]:
        """The configured deployment systems by id (acu, cls1, cls2, gt, rov)."""
        named: dict[str, SystemCfg | None] = {
            "acu": self.acu,
            "cls1": self.cls1,
            "cls2": self.cls2,
            "gt": self.gt,
            "rov": self.rov,
        }
        return {name: cfg for name, cfg in named.items() if cfg is not None}

    def endpoints(self) -> list[str]:
        """Every hardware endpoint named in the configuration."""
        eps = [self.house.io.endpoint]
        for system in self.systems().values():
            eps += system.endpoints()
        return sorted(set(eps))


def _format_errors(exc: ValidationError) -> list[str]:
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        lines.append(f"{loc}: {err['msg']}")
    return lines


def load_config(path: str | os.PathLike[str]) -> Settings:
    """Parse and validate FILE plus environment overrides; raise ConfigError listing every error."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError([f"{p}: no such configuration file"])
    try:
        with p.open("rb") as fh:
            tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{p}: not valid TOML: {exc}"]) from exc
    token = _TOML_PATH.set(p)
    try:
        return Settings()
    except ValidationError as exc:
        raise ConfigError(_format_errors(exc)) from exc
    finally:
        _TOML_PATH.reset(token)


def json_schema() -> dict[str, Any]:
    """The JSON schema of the configuration file (committed as config/schema.json)."""
    return Settings.model_json_schema()
