"""Bus ownership in the configuration: one owner per bus, so one spelling per bus.

The daemon gives every bus one owner (`calibd/buses.py`), keyed by the parsed endpoint: a
serial line by (path, baud rate), a Modbus TCP endpoint by (host, port). Two spellings of one
bus would get two owners talking over each other on the same wire, so the configuration is
refused when
- one serial line (path) is named with two baud rates;
- one Modbus TCP endpoint is named with two spellings of its host (`localhost`, `127.0.0.1` and
  `::1` are one host; IP addresses compare by value, host names case-insensitively);
- two devices on one bus have the same Modbus device id or serial address.
Every message names the TOML paths of both endpoints. Host names other than `localhost` are not
resolved (no DNS at validation): two names of one gateway cannot be seen here.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from pydantic import BaseModel

from calibd.cfgbase import ModbusDeviceCfg, SerialDeviceCfg
from drivers.endpoint import SerialEndpoint, TcpEndpoint, parse_endpoint

#: the host key of every spelling of this machine's loopback that `localhost` may resolve to
_LOOPBACK = "localhost"
_LOOPBACK_ADDRESSES = frozenset({ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")})


@dataclass(frozen=True)
class DeviceRef:
    """One device endpoint of the configuration: where it is and what it says."""

    toml_path: str  # e.g. "acu.units.0.drive.endpoint"
    endpoint: str
    unit: int  # Modbus device id, or serial address


def device_refs(model: BaseModel, prefix: str = "") -> list[DeviceRef]:
    """Every device endpoint below ``model``, in the order of the model's fields."""
    if isinstance(model, ModbusDeviceCfg):
        return [DeviceRef(f"{prefix}endpoint", model.endpoint, model.device_id)]
    if isinstance(model, SerialDeviceCfg):
        return [DeviceRef(f"{prefix}endpoint", model.endpoint, model.address)]
    refs: list[DeviceRef] = []
    for name in type(model).model_fields:
        value = getattr(model, name)
        items: list[tuple[str, object]] = [(name, value)]
        if isinstance(value, list | tuple):
            items = [(f"{name}.{i}", v) for i, v in enumerate(value)]
        elif isinstance(value, dict):
            items = [(f"{name}.{k}", v) for k, v in value.items()]
        for path, item in items:
            if isinstance(item, BaseModel):
                refs += device_refs(item, f"{prefix}{path}.")
    return refs


def host_key(host: str) -> str:
    """The host of a TCP endpoint as one bus sees it: loopback spellings are one host."""
    name = host.lower().rstrip(".")
    if name == _LOOPBACK:
        return _LOOPBACK
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return name
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return _LOOPBACK if address in _LOOPBACK_ADDRESSES else str(address)


def bus_conflicts(refs: list[DeviceRef]) -> list[str]:
    """One message per bus named two ways, or device id / address used twice on one bus."""
    problems: list[str] = []
    first_of_bus: dict[tuple[str, str, int], DeviceRef] = {}
    first_of_unit: dict[tuple[str, str, int, int], DeviceRef] = {}
    for ref in refs:
        ep = parse_endpoint(ref.endpoint)
        if isinstance(ep, TcpEndpoint):
            bus: tuple[str, str, int] = ("tcp", host_key(ep.host), ep.port)
        else:
            bus = ("serial", ep.path, 0)
        first = first_of_bus.setdefault(bus, ref)
        other = parse_endpoint(first.endpoint)
        if isinstance(ep, SerialEndpoint) and isinstance(other, SerialEndpoint):
            if other.baudrate != ep.baudrate:
                problems.append(
                    f"serial line {ep.path} has two baud rates: {other.baudrate} at "
                    f"{first.toml_path} and {ep.baudrate} at {ref.toml_path}"
                    " (one line, one owner, one baud rate)"
                )
                continue
        elif isinstance(ep, TcpEndpoint) and isinstance(other, TcpEndpoint):
            if host_key(ep.host) == host_key(other.host) and ep.host != other.host:
                problems.append(
                    f"one Modbus TCP endpoint spelled two ways: {first.endpoint!r} at "
                    f"{first.toml_path} and {ref.endpoint!r} at {ref.toml_path}"
                    " (one bus, one owner: write its host the same way everywhere)"
                )
                continue
        seen = first_of_unit.setdefault((*bus, ref.unit), ref)
        if seen is not ref:
            what = "device id" if bus[0] == "tcp" else "address"
            problems.append(
                f"{what} {ref.unit} twice on one bus: {seen.toml_path} ({seen.endpoint!r}) and "
                f"{ref.toml_path} ({ref.endpoint!r})"
            )
    return problems
