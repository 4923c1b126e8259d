"""Shared configuration models: the strict base, device endpoints, spool design."""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from drivers.endpoint import SerialEndpoint, TcpEndpoint, parse_endpoint


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModbusDeviceCfg(Strict):
    endpoint: str
    device_id: int = Field(1, ge=1, le=247)

    @model_validator(mode="after")
    def _tcp(self) -> Self:
        if not isinstance(parse_endpoint(self.endpoint), TcpEndpoint):
            raise ValueError("a Modbus device needs a tcp://HOST:PORT endpoint")
        return self


class SerialDeviceCfg(Strict):
    endpoint: str
    address: int = Field(ge=1, le=32)

    @model_validator(mode="after")
    def _serial(self) -> Self:
        if not isinstance(parse_endpoint(self.endpoint), SerialEndpoint):
            raise ValueError("a serial device needs a serial:///PATH endpoint")
        return self


class SpoolCfg(Strict):
    drum_radius_m: float = Field(gt=0, le=1)
    cable_diameter_m: float = Field(gt=0, le=0.02)
    turns_per_layer: int = Field(ge=1)
    cable_length_m: float = Field(gt=0)
    counts_per_rev: int = Field(ge=1)
    cable_ea_n: float = Field(gt=0)
    cable_weight_air_n_m: float = Field(ge=0)
    cable_weight_liquid_n_m: float = Field(ge=0)
    source_weight_air_n: float = Field(gt=0)
    source_weight_liquid_n: float = Field(gt=0)
    load_cell_range_n: float = Field(gt=0)
