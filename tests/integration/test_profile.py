"""A temperature profile over the real stack (Mosquitto, Modbus TCP drives, the sensor on its
pty line, calibsim's liquid): the sensor mounted on the auxiliary unit by the expert actions,
the profile published as it goes, its recorded gradient against the simulator's profile within
the noise, and the same samples in `calibd log export --what profiles`."""

from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path
from typing import Any

import pytest

from calibd.config import load_config
from drivers.thermometer import RESOLUTION_C
from simulators.config import load_config as load_sim_config
from simulators.thermometer import LiquidProfile
from tests.conftest import BIN, Broker
from tests.integration.stack import hil_stack
from tests.mqtt_probe import Probe

pytestmark = pytest.mark.integration

TIME_SCALE = 200.0
Z_FROM_M, Z_TO_M = 12.0, 8.0  # in the bulk, below the warm layer under the surface
#: a fit agrees with the truth within this many standard deviations (false alarm ~6e-5)
K_SIGMA = 4.0


async def _expert(p: Probe, action: str, args: dict[str, Any]) -> None:
    cmd_id = f"x-{action}-{args.get('source', args.get('unit'))}"
    await p.publish("acu/expert/cmd", {"id": cmd_id, "action": action, "args": args})
    assert (await p.ack(cmd_id))["result"] == "accepted"
    assert (await p.final(cmd_id, timeout_s=10.0))["result"] == "completed"


def _slope(zs: list[float], ts: list[float]) -> tuple[float, float]:
    """Least-squares slope of t(z), and Σ(z - z̄)²."""
    n = len(zs)
    z_bar, t_bar = sum(zs) / n, sum(ts) / n
    szz = sum((z - z_bar) ** 2 for z in zs)
    return sum((z - z_bar) * (t - t_bar) for z, t in zip(zs, ts, strict=True)) / szz, szz


def _export(config: Path) -> list[dict[str, Any]]:
    what = ["--what", "profiles", "--format", "json", "--config", str(config)]
    out = subprocess.run(
        [str(BIN / "calibd"), "log", "export", *what],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    profiles: list[dict[str, Any]] = json.loads(out.stdout)
    return profiles


async def test_profile_gradient_matches_the_liquid(mosquitto: Broker, tmp_path: Path) -> None:
    async with hil_stack(mosquitto, tmp_path, time_scale=TIME_SCALE) as stack:
        p = stack.probe
        acu = load_config(stack.config).acu
        assert acu is not None and acu.thermometer is not None
        speed_m_s = acu.thermometer.max_speed_m_s
        sim_acu = load_sim_config(stack.config).acu
        assert sim_acu is not None and sim_acu.thermometer is not None
        physics = sim_acu.thermometer.sim
        liquid = LiquidProfile(physics, sim_acu.z_liquid_m)

        await stack.home()
        args = {"z_from_m": Z_FROM_M, "z_to_m": Z_TO_M, "speed_m_s": speed_m_s}
        refused = await p.ack(await p.send("acu", "profile", args))
        assert refused["error"]["code"] == "invalid_state", refused  # parked
        # the sensor onto the auxiliary unit C, in place of its Ge68 source
        await _expert(p, "unmount", {"unit": "C"})
        await _expert(p, "mount", {"source": "thermometer-1", "unit": "C"})
        rep = await p.run("acu", "deploy", {"unit": "C", "z_m": Z_FROM_M}, timeout_s=30)
        assert rep["result"] == "completed", rep

        rep = await p.run("acu", "profile", args, timeout_s=30)
        assert rep["result"] == "completed", rep
        status = await p.status("acu", lambda s: s["state"] == "AT_POSITION")
        assert abs(status["position"]["z_m"] - Z_TO_M) <= acu.position_tolerance_m
        assert status["source"] == "thermometer-1"
        events = [e for e in p.on("events") if e.get("event") == "profile"]
        started, ended = events
        assert (started["change"], ended["change"], ended["outcome"]) == (
            "started",
            "ended",
            "completed",
        )
        assert started["sensor"] == "thermometer-1" and started["unit"] == "C"
        chunks = [c for c in p.on("acu/profile") if c["profile"] == started["profile"]]
        samples = [s for c in chunks for s in c["samples"]]
        n = len(samples)
        assert n == ended["samples"] and [s["n"] for s in samples] == list(range(1, n + 1))
        assert len(chunks) >= 2  # published as it went, not at the end
        zs = [s["z_m"] for s in samples]
        temps = [s["temperature_c"] for s in samples]
        assert Z_TO_M - 0.1 <= min(zs) and max(zs) <= Z_FROM_M + 0.1

        # The recorded gradient against the simulator's own profile at the same heights. Each
        # reading carries Gaussian noise sigma (and the transmitter's rounding, uniform over
        # one digit); the least-squares slope of N readings then scatters with
        # sigma / sqrt(sum (z - z_mean)^2). The sensor's lag (tau) only delays the readings by
        # about speed * tau: it shifts a linear profile, not its slope, except for the start
        # transient, whose bias is at most 6 |g| (speed tau / L)^2.
        sigma = math.hypot(physics.noise_c, RESOLUTION_C / math.sqrt(12))
        measured, szz = _slope(zs, temps)
        true, _ = _slope(zs, [liquid.temperature_c(z) for z in zs])
        span_m = Z_FROM_M - Z_TO_M
        lag_bias = 6 * abs(true) * (speed_m_s * physics.tau_s / span_m) ** 2
        tolerance = K_SIGMA * sigma / math.sqrt(szz) + lag_bias
        assert abs(measured - true) <= tolerance, (measured, true, tolerance, n)
        assert abs(measured - physics.gradient_c_m) <= tolerance + 1e-4  # bulk: about g
        assert ended["gradient_c_m"] == pytest.approx(measured, abs=2e-6)  # the daemon's fit

        # The residuals about the true profile: an offset (the lag, where the tags sit within
        # a poll) plus the noise. Their spread is sigma within the chi-square scatter of N - 1
        # values; their mean is bounded by the noise, the lag and one poll's travel.
        resid = [t - liquid.temperature_c(z) for z, t in zip(zs, temps, strict=True)]
        mean = sum(resid) / n
        spread = math.sqrt(sum((r - mean) ** 2 for r in resid) / (n - 1))
        assert abs(spread / sigma - 1) <= K_SIGMA / math.sqrt(2 * (n - 1)), (spread, sigma, n)
        poll_travel_m = speed_m_s * TIME_SCALE / acu.poll_fast_hz
        offset_bound = K_SIGMA * sigma / math.sqrt(n) + abs(true) * (
            speed_m_s * physics.tau_s + poll_travel_m
        )
        assert abs(mean) <= offset_bound, (mean, offset_bound)

        # stored as published; exported read-only while the daemon runs
        (stored,) = _export(stack.config)
        assert stored["id"] == started["profile"] and stored["outcome"] == "completed"
        assert stored["samples"] == samples
        assert stored["command_id"] == rep["id"] and stored["sensor"] == "thermometer-1"
