"""The ACU's `profile` action on in-memory fakes (drives, load cells, the temperature sensor):
refusals, the sampled slow leg and its publications, stop, sensor loss; the store's tap and the
export of what it wrote."""

from __future__ import annotations

import asyncio
import csv
import io
import itertools
import json
import statistics
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from calibd.config import load_config
from calibd.core.commands import Command, ReplyRoute
from calibd.core.errors import CommandError
from calibd.core.outbox import Outbox, Outgoing
from calibd.store.db import Store
from calibd.store.export import to_json
from calibd.store.profile_export import read_profiles, to_csv
from calibd.store.profiles import ProfileLog
from calibd.store.writer import Writer
from calibd.subsystems.acu import Acu
from calibd.subsystems.acu_axes import AcuAxes, spool_model
from calibd.subsystems.acu_profile_fit import Fit, interpolate
from calibd.subsystems.house import House
from drivers.fake_drive import FakeDrive
from drivers.fake_io import FakeIo
from drivers.fake_sensors import FakeForceSensor
from drivers.stepper import DriveStatus
from drivers.thermometer import FakeThermometer

ROOT = Path(__file__).resolve().parents[3]
GRADIENT_C_M = 0.5  # a strong, known profile: T = 20 + 0.5 K/m * z
_ids = itertools.count()


class Turntable(FakeDrive):
    """Index switches DI1..DI4 follow the turntable angle (units at 0/90/180/270 degrees)."""

    async def read_status(self) -> DriveStatus:
        st = await super().read_status()
        inputs = 0
        for k in range(4):
            if abs(st.encoder_rev * 360 - 90 * k) < 0.2 and self.homed:
                inputs |= 1 << k
        return DriveStatus(**{**st.__dict__, "inputs": inputs})


@dataclass
class Rig:
    acu: Acu
    sensor: FakeThermometer
    items: list[Outgoing]

    def cmd(self, action: str, **args: Any) -> str:
        cmd_id = f"t-{action}-{next(_ids)}"
        self.acu.submit(Command(cmd_id, "acu", action, args, "shifter", ReplyRoute()))
        return cmd_id

    async def done(self, action: str, **args: Any) -> dict[str, Any]:
        return await self.final(self.cmd(action, **args))

    async def final(self, cmd_id: str, timeout_s: float = 10.0) -> dict[str, Any]:
        async with asyncio.timeout(timeout_s):
            while True:
                for item in self.items:
                    doc = item.payload
                    if item.kind == "reply" and doc["id"] == cmd_id and doc["final"]:
                        return doc
                await asyncio.sleep(0.005)

    def events(self, change: str) -> list[dict[str, Any]]:
        return [
            i.payload
            for i in self.items
            if i.kind == "event"
            and i.payload["event"] == "profile"
            and i.payload["change"] == change
        ]

    def chunks(self) -> list[dict[str, Any]]:
        return [i.payload for i in self.items if i.kind == "message" and i.topic == "acu/profile"]

    def samples(self) -> list[dict[str, Any]]:
        return [s for c in self.chunks() for s in c["samples"]]

    async def deploy_c(self, z_m: float = 16.0) -> None:
        assert (await self.done("home"))["result"] == "completed"
        assert (await self.done("deploy", unit="C", z_m=z_m))["result"] == "completed"


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    s = load_config(ROOT / "config" / "sim.toml")
    assert s.acu is not None and s.acu.thermometer is not None
    sensor_cfg = s.acu.thermometer.model_copy(
        update={"sample_period_s": 0.01, "max_speed_m_s": 2.0, "chunk_samples": 7}
    )
    cfg = s.acu.model_copy(
        update={
            "speed_m_s": 20.0,
            "home_speed_m_s": 1.0,
            "poll_fast_hz": 200.0,
            "poll_idle_s": 0.01,
            "move_margin_s": 1.0,
            "turntable": s.acu.turntable.model_copy(update={"speed_deg_s": 3600.0}),
            "thermometer": sensor_cfg,
        }
    )
    outbox = Outbox()
    items: list[Outgoing] = []
    outbox.taps.append(items.append)
    units: dict[str, Any] = {}
    drives: dict[str, FakeDrive] = {}
    for u in cfg.units:
        model = spool_model(cfg, u.name)
        drive = FakeDrive(f"spool-{u.name}", position_rev=0.002, home_window_rev=0.0005)

        def tension(d: FakeDrive = drive, m: Any = model) -> float:
            return float(m.expected_tension_n(max(0.0, d.position_rev)))

        drives[u.name] = drive
        units[u.name] = (drive, FakeForceSensor(f"cell-{u.name}", tension_fn=tension))
    c_drive, c_model = drives["C"], spool_model(cfg, "C")

    def true_z_m() -> float:  # where unit C's end is right now (not at the last poll)
        c_drive.advance(0.0)
        rev = max(0.0, c_drive.position_rev)
        return float(c_model.z_m(rev, c_model.expected_tension_n(rev)))

    sensor = FakeThermometer(lambda: 20.0 + GRADIENT_C_M * true_z_m())
    house = House(s.house, FakeIo(valve_travel_s=0.01), outbox)
    acu = Acu(
        cfg, AcuAxes(cfg, Turntable("turntable", home_window_rev=0.0005), units), house, outbox
    )
    acu.attach_thermometer(sensor)
    async with asyncio.TaskGroup() as tg:
        tasks = [tg.create_task(house.run()), tg.create_task(acu.run())]
        await asyncio.sleep(0.05)
        yield Rig(acu, sensor, items)
        for t in tasks:
            t.cancel()


# ---- pure helpers ---------------------------------------------------------------------------


def test_interpolate_and_fit() -> None:
    assert interpolate(1.0, 10.0, 3.0, 6.0, 2.5) == pytest.approx(7.0)
    assert interpolate(1.0, 10.0, 1.0, 6.0, 1.0) == 6.0  # one reading: the newer
    fit = Fit()
    assert fit.summary()["gradient_c_m"] is None
    for z in (5.0, 4.0, 3.0, 2.0):
        fit.add(z, 20.0 + 0.25 * z)
    got = fit.summary()
    assert got["gradient_c_m"] == pytest.approx(0.25)
    assert got["intercept_c"] == pytest.approx(20.0)
    assert got["mean_c"] == pytest.approx(20.875)
    assert (got["z_min_m"], got["z_max_m"]) == (2.0, 5.0)


# ---- refusals --------------------------------------------------------------------------------


def _refused(rig: Rig, **args: Any) -> str:
    with pytest.raises(CommandError) as exc:
        rig.cmd("profile", **args)
    return str(exc.value.code)


async def test_refusals(rig: Rig) -> None:
    ok = {"z_from_m": 16.0, "z_to_m": 15.0, "speed_m_s": 1.0}
    assert _refused(rig, **ok) == "invalid_state"  # UNKNOWN: not deployed
    assert _refused(rig, **{**ok, "speed_m_s": 2.5}) == "out_of_range"  # above max_speed_m_s
    assert _refused(rig, **{**ok, "speed_m_s": 0.0005}) == "out_of_range"  # below the minimum
    assert _refused(rig, **{**ok, "z_to_m": -17.5}) == "out_of_range"  # beyond the soft limit
    assert _refused(rig, **{**ok, "z_from_m": 15.0}) == "out_of_range"  # nothing to profile
    assert _refused(rig, z_from_m=16.0, z_to_m=15.0) == "bad_request"
    await rig.deploy_c()
    rig.acu.inventory = SimpleNamespace(
        mounted=lambda system, unit: SimpleNamespace(id="Ge68-1", kind="Ge68")
    )
    with pytest.raises(CommandError, match="carries Ge68-1 \\(Ge68\\), not a thermometer"):
        rig.cmd("profile", **ok)
    rig.acu.inventory = SimpleNamespace(
        mounted=lambda system, unit: SimpleNamespace(id="thermometer-1", kind="thermometer")
    )
    assert (await rig.done("retract"))["result"] == "completed"
    assert (await rig.done("deploy", unit="A", z_m=16.0))["result"] == "completed"
    with pytest.raises(CommandError, match="needs unit C"):
        rig.cmd("profile", **ok)
    rig.acu.profiler = None
    with pytest.raises(CommandError, match="no temperature sensor configured"):
        rig.cmd("profile", **ok)
    assert rig.events("started") == []


# ---- a profile -------------------------------------------------------------------------------


async def test_profile_samples_along_the_slow_leg(rig: Rig) -> None:
    await rig.deploy_c()
    cmd = rig.cmd("profile", z_from_m=15.9, z_to_m=15.3, speed_m_s=1.0)
    assert rig.acu.state == "PROFILING" or rig.acu.command is not None
    final = await rig.final(cmd)
    assert final["result"] == "completed", final
    assert rig.acu.state == "AT_POSITION"
    assert abs((rig.acu.axes.z_m("C") or 0) - 15.3) <= rig.acu.cfg.position_tolerance_m

    (started,) = rig.events("started")
    (ended,) = rig.events("ended")
    assert started["command"] == cmd and started["operator"] == "shifter"
    assert (started["unit"], started["z_from_m"], started["z_to_m"]) == ("C", 15.9, 15.3)
    samples = rig.samples()
    assert [s["n"] for s in samples] == list(range(1, len(samples) + 1))
    assert len(samples) >= 20 and ended["samples"] == len(samples)
    assert all(len(c["samples"]) <= 7 for c in rig.chunks())
    zs = [s["z_m"] for s in samples]
    assert zs == sorted(zs, reverse=True)  # going down, every sample tagged in order
    assert 15.3 - 0.01 <= min(zs) and max(zs) <= 15.9 + 0.01
    # each tag is where the sensor was when it was read (read right after a poll, the tag
    # interpolated to the middle of the reading): within a fraction of one poll's travel
    # (1 m/s / 200 Hz = 5 mm), whatever the poll timing
    errors_m = sorted(
        abs(s["temperature_c"] - 20.0 - GRADIENT_C_M * s["z_m"]) / GRADIENT_C_M for s in samples
    )
    assert errors_m[int(0.9 * len(errors_m))] <= 0.002
    assert ended["outcome"] == "completed" and ended["message"] == ""
    assert ended["gradient_c_m"] == pytest.approx(GRADIENT_C_M, rel=0.01)
    z_mean = statistics.fmean(zs)
    assert ended["mean_c"] == pytest.approx(20.0 + GRADIENT_C_M * z_mean, abs=0.002)
    line_c = ended["intercept_c"] + ended["gradient_c_m"] * z_mean  # through the centroid
    assert line_c == pytest.approx(ended["mean_c"], abs=1e-3)
    assert rig.acu.status_fields()["profile"] is None


async def test_stop_ends_the_profile_stopped(rig: Rig) -> None:
    await rig.deploy_c()
    cmd = rig.cmd("profile", z_from_m=16.0, z_to_m=14.0, speed_m_s=0.5)
    async with asyncio.timeout(5):
        while len(rig.samples()) < 10:
            await asyncio.sleep(0.005)
    assert rig.acu.state == "PROFILING"
    status = rig.acu.status_fields()["profile"]
    assert status["z_to_m"] == 14.0 and status["samples"] >= 10
    rig.cmd("stop")
    assert (await rig.final(cmd))["result"] == "aborted"
    assert rig.acu.state == "STOPPED"
    (ended,) = rig.events("ended")
    assert ended["outcome"] == "stopped" and ended["samples"] == len(rig.samples())
    z = rig.acu.axes.z_m("C") or 0.0
    assert 14.05 < z < 15.95  # stopped on the way


async def test_sensor_loss_stops_the_unit_and_fails(rig: Rig) -> None:
    await rig.deploy_c()
    cmd = rig.cmd("profile", z_from_m=16.0, z_to_m=14.0, speed_m_s=0.5)
    async with asyncio.timeout(5):
        while len(rig.samples()) < 5:
            await asyncio.sleep(0.005)
    rig.sensor.lost = True
    final = await rig.final(cmd)
    assert final["result"] == "failed" and final["error"]["code"] == "hardware", final
    assert "thermometer" in final["error"]["message"]
    assert rig.acu.state == "STOPPED"
    (ended,) = rig.events("ended")
    assert ended["outcome"] == "failed" and "thermometer" in ended["message"]


async def test_silent_sensor_fails_before_anything_moves(rig: Rig) -> None:
    await rig.deploy_c()
    rig.sensor.lost = True
    final = await rig.done("profile", z_from_m=15.0, z_to_m=14.0, speed_m_s=0.5)
    assert final["result"] == "failed" and final["error"]["code"] == "hardware", final
    assert rig.acu.state == "AT_POSITION"
    assert abs((rig.acu.axes.z_m("C") or 0) - 16.0) <= rig.acu.cfg.position_tolerance_m
    assert rig.events("started") == []


# ---- the store -------------------------------------------------------------------------------


async def test_store_tap_and_export(rig: Rig, tmp_path: Path) -> None:
    await rig.deploy_c()
    assert (await rig.done("profile", z_from_m=16.0, z_to_m=15.5, speed_m_s=1.0))[
        "result"
    ] == "completed"
    store = Store.in_dir(tmp_path)
    await store.open()
    writer = Writer(store)
    log = ProfileLog(writer, session=7)
    log.close_interrupted()  # nothing open: nothing to close
    for item in rig.items:
        log.tap(item)
    log.tap(
        Outgoing("message", "acu", {"profile": "x", "samples": [{"n": "bad"}]}, topic="acu/profile")
    )
    # a second one whose end never came (the daemon died): closed `interrupted` at the next start
    open_doc = {
        **rig.events("started")[0],
        "profile": "acu-open",
        "started": "2099-01-01T00:00:00.000Z",
    }
    log.tap(Outgoing("event", "acu", open_doc))
    await writer.flush()
    ProfileLog(writer, session=8).close_interrupted()
    await writer.flush()
    await store.close()

    profiles = read_profiles(store.path, None)
    done, interrupted = profiles
    samples = rig.samples()
    assert done["id"] == rig.events("started")[0]["profile"]
    assert (done["outcome"], done["session"], done["unit"], done["operator"]) == (
        "completed",
        7,
        "C",
        "shifter",
    )
    assert done["samples"] == [
        {k: s[k] for k in ("n", "ts", "z_m", "temperature_c")} for s in samples
    ]
    assert done["fit"]["gradient_c_m"] == rig.events("ended")[0]["gradient_c_m"]
    assert "missing_samples" not in done
    assert interrupted["outcome"] == "interrupted" and interrupted["samples"] == []
    assert json.loads(to_json(profiles))[0]["id"] == done["id"]
    rows = list(csv.DictReader(io.StringIO(to_csv(profiles))))
    assert len(rows) == len(samples) + 1  # the interrupted one: one row without samples
    assert [float(r["temperature_c"]) for r in rows[:-1]] == [s["temperature_c"] for s in samples]
    assert rows[-1]["profile"] == "acu-open" and rows[-1]["n"] == ""
    later = read_profiles(store.path, datetime(2098, 1, 1, tzinfo=UTC))
    assert [p["id"] for p in later] == ["acu-open"]
    assert float(rows[0]["gradient_c_m"]) == pytest.approx(GRADIENT_C_M, rel=0.01)
