"""bench/figures.py: percentiles, per-second rates, targets and their verdicts (pure)."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

BENCH = str(Path(__file__).resolve().parents[2] / "bench")
if BENCH not in sys.path:
    sys.path.insert(0, BENCH)

from figures import (  # noqa: E402
    Figure,
    Outcome,
    Target,
    fmt,
    latency,
    per_second_rates,
    percentile,
    suite_pass,
)


def test_percentile_is_nearest_rank() -> None:
    values = [float(x) for x in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile(values, 100) == 100.0
    assert percentile([7.0], 99) == 7.0
    assert percentile([1.0, 2.0, 3.0], 50) == 2.0


def test_percentile_of_nothing_is_an_error() -> None:
    with pytest.raises(ValueError, match="empty"):
        percentile([], 50)


def test_latency_summary() -> None:
    assert latency([1.0, 2.0, 3.0, 4.0]) == {
        "p50_ms": 2.0,
        "p90_ms": 4.0,
        "p99_ms": 4.0,
        "max_ms": 4.0,
    }
    assert latency([]) == {"p50_ms": None, "p90_ms": None, "p99_ms": None, "max_ms": None}


def test_per_second_rates_count_whole_seconds_only() -> None:
    times = [10.0, 10.5, 10.99, 11.0, 12.2, 12.9, 13.5, 9.9]
    # window [10, 13.7): bins [10,11) [11,12) [12,13); 13.5 is in the partial last second
    assert per_second_rates(times, 10.0, 13.7) == [3, 1, 2]
    assert per_second_rates(times, 10.0, 10.5) == []


@pytest.mark.parametrize(
    ("target", "value", "met"),
    [
        (Target("<=", 10.0, "issue 2", "w"), 10.0, True),
        (Target("<=", 10.0, "issue 2", "w"), 10.01, False),
        (Target(">=", 500.0, "proposed", "w"), 500.0, True),
        (Target(">=", 500.0, "proposed", "w"), 499.0, False),
        (Target("within", 1.0, "issue 6", "w", tol=0.05), 0.95, True),
        (Target("within", 1.0, "issue 6", "w", tol=0.05), 1.05, True),
        (Target("within", 1.0, "issue 6", "w", tol=0.05), 1.051, False),
        (Target("within", 1.0, "issue 6", "w", tol=0.05), 0.9, False),
        (Target("<=", 10.0, "issue 2", "w"), None, False),
        (Target(">=", 1.0, "issue 2", "w"), math.nan, False),
    ],
)
def test_target_verdicts(target: Target, value: float | None, met: bool) -> None:
    assert target.met(value) is met


def test_target_text_and_json() -> None:
    assert Target("<=", 10.0, "issue 2", "w").text("ms") == "≤ 10 ms"
    assert Target(">=", 1600.0, "proposed", "w").text("tx/s") == "≥ 1600 tx/s"
    assert Target("within", 1.0, "issue 6", "w", tol=0.05).text("") == "1 ± 0.05"
    doc = Target("within", 1.0, "issue 6", "why", tol=0.05).to_json("")
    assert doc == {
        "op": "within",
        "value": 1.0,
        "tol": 0.05,
        "unit": "",
        "text": "1 ± 0.05",
        "source": "issue 6",
        "why": "why",
    }


def test_bad_targets_are_refused() -> None:
    with pytest.raises(ValueError, match="tol"):
        Target("within", 1.0, "issue 6", "w")
    with pytest.raises(ValueError, match="source"):
        Target("<=", 1.0, "gut feeling", "w")
    with pytest.raises(ValueError, match="operator"):
        Target("<", 1.0, "issue 2", "w")  # type: ignore[arg-type]


def test_figure_without_target_has_no_verdict() -> None:
    assert Figure("p50", 3.0, "ms").passed is None
    assert Figure("p99", 3.0, "ms", Target("<=", 2.0, "issue 2", "w")).passed is False
    assert Figure("p99", 3.0, "ms").to_json()["target"] is None


def test_outcome_verdicts() -> None:
    ok = Figure("p99", 1.0, "ms", Target("<=", 2.0, "issue 2", "w"))
    bad = Figure("p99", 3.0, "ms", Target("<=", 2.0, "issue 2", "w"))
    context = Figure("p50", 1.0, "ms")
    assert Outcome("a", "A", [ok, context]).passed is True
    assert Outcome("a", "A", [ok, bad]).passed is False
    assert Outcome("a", "A", [context]).passed is None
    assert Outcome("a", "A", [ok], error="RuntimeError: broke").passed is False
    assert suite_pass([Outcome("a", "A", [ok]), Outcome("b", "B", [context])]) is True
    assert suite_pass([Outcome("a", "A", [ok]), Outcome("b", "B", [bad])]) is False


def test_fmt() -> None:
    assert fmt(None) == "—"
    assert fmt(0.0) == "0"
    assert fmt(5.0) == "5"
    assert fmt(5.732) == "5.732"
    assert fmt(23.1234) == "23.12"
    assert fmt(13703.0) == "13703"
    assert fmt(0.2051) == "0.2051"
