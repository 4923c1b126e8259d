"""The daemon's Modbus TCP load while every system moves, derived from a config (pure).

Every poll cycle of a system reads each of its Modbus devices once (calibd/core/axis.py
`Axes.poll`, calibd/subsystems/acu_axes.py `AcuAxes.poll`, calibd/subsystems/rov_plant.py
`RovPlant.poll`); a moving system polls at its `poll_fast_hz`. Transactions per poll:

- a stepper drive (drive, turntable, winch): 1, the FC04 status block (drivers/stepper.py);
- the ROV vehicle: 2, the FC04 status and the FC16 setpoint that carries the heartbeat, sent
  every poll (`RovPlant.send`);
- the house IO module: 2, FC02 inputs + FC04 registers (drivers/io_module.py `IoModule.read`),
  every `HOUSE_FAST_POLL_S` while a valve moves (calibd/subsystems/house.py `_FAST_POLL_S`);
- any other Modbus device: assumed 1 per poll of its system.

The writes of a move (one FC16 per leg or waypoint) and stops are rare next to the polls and are
not counted. Load cells and ultrasonic receivers are on serial lines, not Modbus TCP.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["stepper", "vehicle", "io", "other"]

HOUSE_FAST_POLL_S = 0.02
TX_PER_POLL: dict[Kind, int] = {"stepper": 1, "vehicle": 2, "io": 2, "other": 1}
MARGIN = 2.0  # the benchmark's targets: at least this many times the need


@dataclass(frozen=True)
class Device:
    """One Modbus TCP device of the config and the load its system's poll puts on it."""

    path: str  # TOML path, e.g. "acu.units[0].drive"
    system: str
    endpoint: str  # "tcp://host:port"
    device_id: int
    kind: Kind
    poll_hz: float

    @property
    def tx_per_poll(self) -> int:
        return TX_PER_POLL[self.kind]

    @property
    def need_tx_s(self) -> float:
        return self.tx_per_poll * self.poll_hz


def kind_of(key: str) -> Kind:
    """The device kind from its TOML key."""
    if key in ("drive", "turntable", "winch"):
        return "stepper"
    if key == "vehicle":
        return "vehicle"
    if key == "io":
        return "io"
    return "other"


def _walk(node: Any, path: str, key: str) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
    """(path, key, table) of every table below `node` that names a tcp:// endpoint."""
    if isinstance(node, Mapping):
        endpoint = node.get("endpoint")
        if isinstance(endpoint, str) and endpoint.startswith("tcp://") and "device_id" in node:
            yield path, key, node
            return
        for k, v in node.items():
            yield from _walk(v, f"{path}.{k}", str(k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _walk(v, f"{path}[{i}]", key)


def devices(cfg: Mapping[str, Any]) -> list[Device]:
    """Every Modbus TCP device of the systems and the house, in config order."""
    out: list[Device] = []
    for system, section in cfg.items():
        if not isinstance(section, Mapping):
            continue
        if system == "house":
            hz = 1.0 / HOUSE_FAST_POLL_S
        elif "poll_fast_hz" in section:
            hz = float(section["poll_fast_hz"])
        else:
            continue
        for path, key, table in _walk(section, system, system):
            endpoint, device_id = str(table["endpoint"]), int(table["device_id"])
            out.append(Device(path, system, endpoint, device_id, kind_of(key), hz))
    return out


@dataclass(frozen=True)
class Need:
    """The Modbus TCP transactions per second the daemon needs, per endpoint and in total."""

    by_endpoint: dict[str, float]
    systems_by_endpoint: dict[str, list[str]]

    @property
    def total_tx_s(self) -> float:
        return sum(self.by_endpoint.values())

    @property
    def busiest(self) -> str:
        """The endpoint with the highest need (first in config order on a tie)."""
        return max(self.by_endpoint, key=lambda ep: self.by_endpoint[ep])

    @property
    def busiest_tx_s(self) -> float:
        return self.by_endpoint[self.busiest]

    @property
    def tx_budget_ms(self) -> float:
        """Time per transaction on the busiest bus if its need fills the bus (one at a time)."""
        return 1000.0 / self.busiest_tx_s


def need(devs: list[Device]) -> Need:
    if not devs:
        raise ValueError("the config has no Modbus TCP device")
    by_ep: dict[str, float] = defaultdict(float)
    systems: dict[str, list[str]] = defaultdict(list)
    for d in devs:
        by_ep[d.endpoint] += d.need_tx_s
        if d.system not in systems[d.endpoint]:
            systems[d.endpoint].append(d.system)
    return Need(dict(by_ep), dict(systems))


def derivation(devs: list[Device]) -> list[str]:
    """One line per endpoint: how its need is counted (for the JSON and bench/README.md)."""
    per_ep: dict[str, list[Device]] = defaultdict(list)
    for d in devs:
        per_ep[d.endpoint].append(d)
    lines = []
    for ep, group in per_ep.items():
        parts = [f"{d.path} ({d.kind}) {d.tx_per_poll}" for d in group]
        hz = sorted({d.poll_hz for d in group})
        total = sum(d.need_tx_s for d in group)
        hz_text = "/".join(f"{h:g}" for h in hz)
        lines.append(f"{ep}: {' + '.join(parts)} tx/poll at {hz_text} Hz = {total:g} tx/s")
    return lines
