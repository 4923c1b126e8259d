"""Sustained Modbus TCP transactions/s of the drivers against the simulator, on loopback.

On a private rig without the daemon (bench/_common.py: Mosquitto and calibsim on a copy of
config/sim.toml), the drivers (drivers/modbus_bus.py `ModbusBus`, drivers/stepper.py
`StepperDrive`, drivers/rov_vehicle.py `RovVehicle`, drivers/io_module.py `IoModule`) repeat
the daemon's poll of each device as fast as they can, one transaction at a time per bus:

- single: one bus, the endpoint with the highest need (bench/modbus_need.py), for `--duration-s`;
- concurrent: one bus per Modbus TCP endpoint of the config, all at once, for `--duration-s`.

Each transaction is timed at the bus (a thin timing wrapper around `ModbusBus`). Reported:
tx/s as the median of the per-second counts (whole seconds after a 0.5 s warm-up), and the
per-transaction latency p50/p99. The need is derived from the config by bench/modbus_need.py.
Prints one JSON object.

    .venv/bin/python bench/modbus_rate.py [--duration-s 10] [--keep]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
import tomllib
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import modbus_need
from _common import rig
from figures import latency, per_second_rates
from machine_info import machine

from drivers.endpoint import TcpEndpoint, parse_endpoint
from drivers.io_module import IoModule
from drivers.modbus_bus import ModbusBus
from drivers.rov_vehicle import RovVehicle
from drivers.stepper import StepperDrive

WARMUP_S = 0.5
COUNTS_PER_REV = 4096.0  # decoding only; the value does not change the wire traffic
T = TypeVar("T")


class TimedBus:
    """A `RegisterBus` that times every transaction of the `ModbusBus` it wraps."""

    def __init__(self, bus: ModbusBus, log: list[tuple[float, float]]) -> None:
        self._bus = bus
        self._log = log  # (monotonic end time s, latency ms) per transaction

    @property
    def name(self) -> str:
        return self._bus.name

    async def _timed(self, call: Awaitable[T]) -> T:
        t0 = time.perf_counter()
        out = await call
        t1 = time.perf_counter()
        self._log.append((time.monotonic(), (t1 - t0) * 1000.0))
        return out

    async def read_input_registers(self, device_id: int, address: int, count: int) -> list[int]:
        return await self._timed(self._bus.read_input_registers(device_id, address, count))

    async def read_holding_registers(self, device_id: int, address: int, count: int) -> list[int]:
        return await self._timed(self._bus.read_holding_registers(device_id, address, count))

    async def write_register(self, device_id: int, address: int, value: int) -> None:
        await self._timed(self._bus.write_register(device_id, address, value))

    async def write_registers(self, device_id: int, address: int, values: Sequence[int]) -> None:
        await self._timed(self._bus.write_registers(device_id, address, values))

    async def read_discrete_inputs(self, device_id: int, address: int, count: int) -> list[bool]:
        return await self._timed(self._bus.read_discrete_inputs(device_id, address, count))

    async def read_coils(self, device_id: int, address: int, count: int) -> list[bool]:
        return await self._timed(self._bus.read_coils(device_id, address, count))

    async def write_coil(self, device_id: int, address: int, value: bool) -> None:
        await self._timed(self._bus.write_coil(device_id, address, value))


def poll_step(bus: TimedBus, dev: modbus_need.Device) -> Callable[[], Awaitable[object]] | None:
    """The daemon's poll of one device as a call (None: a kind this benchmark cannot drive)."""
    if dev.kind == "stepper":
        drive = StepperDrive(bus, dev.device_id, name=dev.path, counts_per_rev=COUNTS_PER_REV)
        return drive.read_status
    if dev.kind == "vehicle":
        vehicle = RovVehicle(bus, dev.device_id, name=dev.path)

        async def vehicle_poll() -> None:  # status, then the setpoint with the heartbeat
            await vehicle.read_status()
            await vehicle.command((0.0, 0.0, 0.0), thrusters=False)

        return vehicle_poll
    if dev.kind == "io":
        return IoModule(bus, dev.device_id, name=dev.path).read
    return None


async def hammer(steps: list[Callable[[], Awaitable[object]]], until_s: float) -> None:
    """The steps round robin, back to back, until the monotonic time `until_s`."""
    while time.monotonic() < until_s:
        for step in steps:
            await step()


async def phase(groups: dict[str, list[modbus_need.Device]], duration_s: float) -> dict[str, Any]:
    """One bus per endpoint of `groups`, all hammering at once for `duration_s`."""
    logs: dict[str, list[tuple[float, float]]] = {ep: [] for ep in groups}
    buses: list[ModbusBus] = []
    jobs = []
    skipped: list[str] = []
    for ep, devs in groups.items():
        tcp = parse_endpoint(ep)
        assert isinstance(tcp, TcpEndpoint)
        bus = ModbusBus(tcp, name=ep, timeout_s=0.5, retries=0)
        buses.append(bus)
        timed = TimedBus(bus, logs[ep])
        steps = []
        for d in devs:
            step = poll_step(timed, d)
            if step is None:
                skipped.append(d.path)
            else:
                steps.append(step)
        jobs.append(steps)
    try:
        for bus in buses:
            await bus.connect()
        start_s = time.monotonic() + WARMUP_S
        end_s = start_s + duration_s
        async with asyncio.timeout(duration_s + WARMUP_S + 30.0):
            await asyncio.gather(*(hammer(steps, end_s) for steps in jobs if steps))
    finally:
        for bus in buses:
            await bus.close()
    every = [x for log in logs.values() for x in log if start_s <= x[0] < end_s]
    rates = per_second_rates([t for t, _ in every], start_s, end_s)
    per_bus = {
        ep: statistics.median(per_second_rates([t for t, _ in log], start_s, end_s))
        for ep, log in logs.items()
    }
    return {
        "buses": len(groups),
        "devices": sum(len(d) for d in groups.values()) - len(skipped),
        "skipped": skipped,
        "tx": len(every),
        "tx_s_p50": statistics.median(rates),
        "tx_s_min": min(rates),
        "tx_s_per_bus_p50": per_bus,
        **latency(sorted(ms for _, ms in every)),
    }


def run(duration_s: float = 10.0, *, keep: bool = False) -> dict[str, Any]:
    """Both phases on a fresh rig; the result document (without the machine)."""
    if duration_s < 1:
        raise ValueError("modbus_rate: duration_s must be at least 1")
    t0 = time.monotonic()
    with rig("modbus_rate", keep=keep, daemon=False) as stack:
        devs = modbus_need.devices(tomllib.loads(stack.config.read_text()))
        need = modbus_need.need(devs)
        groups: dict[str, list[modbus_need.Device]] = {}
        for d in devs:
            groups.setdefault(d.endpoint, []).append(d)
        single = asyncio.run(phase({need.busiest: groups[need.busiest]}, duration_s))
        concurrent = asyncio.run(phase(groups, duration_s))
        stack.check()
    return {
        "benchmark": "modbus_rate",
        "duration_s": duration_s,
        "need": {
            "busiest_endpoint": need.busiest,
            "busiest_systems": need.systems_by_endpoint[need.busiest],
            "busiest_tx_s": need.busiest_tx_s,
            "total_tx_s": need.total_tx_s,
            "tx_budget_ms": round(need.tx_budget_ms, 3),
            "derivation": modbus_need.derivation(devs),
        },
        "single": single,
        "concurrent": concurrent,
        "wall_s": round(time.monotonic() - t0, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="Modbus TCP transactions/s, drivers vs calibsim")
    parser.add_argument("--duration-s", type=float, default=10.0, help="per phase (default 10)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    args = parser.parse_args()
    print(json.dumps({**run(args.duration_s, keep=args.keep), "machine": machine()}))


if __name__ == "__main__":
    main()
