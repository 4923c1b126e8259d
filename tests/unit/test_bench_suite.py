"""bench/catalog.py and bench/suite.py: figures and targets from result documents, the suite's
JSON document, a broken benchmark (pure: nothing is measured here)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

BENCH = str(Path(__file__).resolve().parents[2] / "bench")
if BENCH not in sys.path:
    sys.path.insert(0, BENCH)

import catalog  # noqa: E402
import suite  # noqa: E402
from figures import Figure, Outcome  # noqa: E402

REACTION: dict[str, Any] = {
    "poll_period_ms": 20.0,
    "target_p99_ms": 25.0,
    "p50_ms": 15.0,
    "p99_ms": 24.6,
    "misses": 0,
    "aborted": None,
}
IDLE: dict[str, Any] = {
    "daemon": {"cpu_pct": 4.0, "rss_mib": 58.0, "hwm_mib": 59.0},
    "calibsim": {"cpu_pct": 8.0, "rss_mib": 44.0, "hwm_mib": 44.0},
}
MODBUS: dict[str, Any] = {
    "need": {"busiest_tx_s": 250.0, "total_tx_s": 800.0, "busiest_systems": ["acu"]},
    "single": {"tx_s_p50": 499, "p50_ms": 0.3, "p99_ms": 2.0, "tx": 5000},
    "concurrent": {"buses": 6, "tx_s_p50": 2600, "p50_ms": 1.4, "p99_ms": 8.0, "tx": 26000},
}


def by_name(figs: list[Figure]) -> dict[str, Figure]:
    return {f.name: f for f in figs}


def test_ack_target_is_issue_2() -> None:
    figs = by_name(catalog.ack_figures({"p50_ms": 3.0, "p99_ms": 11.0, "target_p99_ms": 10}))
    assert figs["p50"].target is None
    p99 = figs["p99"]
    assert p99.target is not None
    assert (p99.target.op, p99.target.value, p99.target.source) == ("<=", 10, "issue 2")
    assert p99.passed is False


def test_reaction_target_follows_the_poll_period_and_misses_fail() -> None:
    figs = by_name(catalog.reaction_figures(REACTION))
    assert figs["p99"].target is not None
    assert figs["p99"].target.value == 25.0
    assert figs["p99"].target.source == "issue 4"
    assert figs["p99"].passed is True
    assert figs["misses"].passed is True
    missed = by_name(catalog.reaction_figures({**REACTION, "misses": 1}))
    assert missed["misses"].passed is False
    aborted = catalog.reaction_figures({**REACTION, "aborted": "acu: reset refused"})
    assert aborted[-1].name == "aborted"
    assert aborted[-1].note == "acu: reset refused"


def test_idle_targets_are_proposed_with_reasons() -> None:
    figs = by_name(catalog.idle_figures(IDLE))
    for name in ("daemon CPU", "daemon RSS"):
        target = figs[name].target
        assert target is not None
        assert target.source == "proposed"
        assert "no issue sets one" in target.why
    assert figs["daemon CPU"].passed is True
    assert figs["calibsim CPU"].target is None
    assert (
        by_name(catalog.idle_figures({**IDLE, "daemon": {**IDLE["daemon"], "cpu_pct": 6.0}}))[
            "daemon CPU"
        ].passed
        is False
    )


def test_modbus_targets_are_twice_the_need() -> None:
    figs = by_name(catalog.modbus_figures(MODBUS))
    one, every = figs["one bus"], figs["6 buses at once"]
    assert one.target is not None
    assert every.target is not None
    assert (one.target.op, one.target.value) == (">=", 500.0)
    assert (every.target.op, every.target.value) == (">=", 1600.0)
    assert one.passed is False  # 499 < 500
    assert every.passed is True
    assert "250 tx/s" in one.target.why


def program_run(program: str, scale: float, ratio: float, wall_s: float) -> dict[str, Any]:
    return {"program": program, "time_scale": scale, "ratio": ratio, "wall_s": wall_s}


def test_program_ratio_targets_and_the_ci_wall_time() -> None:
    raw = {
        "time_scale": 100.0,
        "ci_time_scale": 300.0,
        "runs": [
            program_run("weekly", 100.0, 1.002, 40.1),
            program_run("monthly", 100.0, 0.94, 183.0),
            program_run("weekly", 300.0, 1.01, 31.0),
        ],
    }
    figs = by_name(catalog.program_figures(raw))
    assert figs["weekly run/ETA (time_scale 100)"].passed is True
    assert figs["monthly run/ETA (time_scale 100)"].passed is False  # outside 1 ± 0.05
    assert figs["weekly wall time (time_scale 100)"].target is None  # not the CI scale
    ci = figs["weekly wall time (time_scale 300)"]
    assert ci.target is not None
    assert (ci.target.value, ci.target.source) == (30.0, "issue 6")
    assert ci.passed is False
    assert figs["monthly wall time (time_scale 100)"].target is None


def doc_of(outcomes: list[Outcome]) -> dict[str, Any]:
    return suite.document(
        outcomes,
        command="bench/run --quick",
        settings=catalog.Settings(quick=True),
        machine_info={"cpu_model": "X", "cores": 2},
        wall_s=12.34,
        note="shared CPUs",
        load_end=[1.0, 1.0, 1.0],
    )


def test_document_shape_survives_json() -> None:
    ok = Outcome("ack_latency", "ack", catalog.ack_figures({**REACTION, "target_p99_ms": 10}), 5)
    doc = json.loads(json.dumps(doc_of([ok])))
    assert set(doc) == {
        "suite",
        "command",
        "quick",
        "settings",
        "note",
        "machine",
        "load_average_end",
        "wall_s",
        "pass",
        "benchmarks",
    }
    assert doc["quick"] is True
    assert doc["wall_s"] == 12.3
    bench = doc["benchmarks"]["ack_latency"]
    assert set(bench) == {"title", "pass", "error", "n", "wall_s", "figures", "details"}
    p99 = bench["figures"][1]
    assert set(p99) == {"name", "value", "unit", "target", "pass", "note"}
    assert set(p99["target"]) == {"op", "value", "unit", "text", "source", "why"}
    assert doc["pass"] is False  # p99 24.6 ms > 10 ms


def test_a_broken_or_aborted_benchmark_is_an_error_not_a_crash() -> None:
    def boom(_s: catalog.Settings) -> dict[str, Any]:
        raise RuntimeError("calibsim exited")

    spec = catalog.Spec("x", "X", boom, catalog.ack_figures, lambda r: None)
    out = suite.run_spec(spec, catalog.Settings())
    assert out.error == "RuntimeError: calibsim exited"
    assert out.passed is False
    assert out.figures == []

    aborted = catalog.Spec(
        "r", "R", lambda _s: {**REACTION, "aborted": "acu: stuck"}, catalog.reaction_figures, len
    )
    got = suite.run_spec(aborted, catalog.Settings())
    assert got.error == "aborted: acu: stuck"
    assert got.figures  # the figures so far are kept
    assert doc_of([got])["pass"] is False


def test_every_benchmark_is_listed_once() -> None:
    names = [s.name for s in catalog.SPECS]
    assert len(names) == len(set(names)) == len(catalog.BY_NAME)
    assert suite.main(["--only", "nonsense"]) == 2
    assert suite.main(["--only", "idle", "--update-readme"]) == 2
