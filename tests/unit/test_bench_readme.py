"""bench/readme_table.py: the README's benchmark block from a suite document (pure)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT / "bench") not in sys.path:
    sys.path.insert(0, str(ROOT / "bench"))

from figures import Figure, Outcome, Target  # noqa: E402
from readme_table import BEGIN, END, render, replace_block, rows  # noqa: E402


def doc() -> dict[str, Any]:
    ack = Outcome(
        "ack_latency",
        "command → ack latency",
        [
            Figure("p50", 3.07, "ms"),
            Figure("p99", 12.5, "ms", Target("<=", 10.0, "issue 2", "w")),
        ],
        n=1000,
    )
    idle = Outcome(
        "idle",
        "daemon idle",
        [Figure("daemon RSS", 58.4, "MiB", Target("<=", 150.0, "proposed", "w"))],
    )
    broken = Outcome("modbus", "Modbus | TCP", error="RuntimeError: calibsim exited")
    return {
        "command": "bench/run --note 'shared CPUs'",
        "wall_s": 481.7,
        "pass": False,
        "note": "two other engineers' tests ran",
        "load_average_end": [2.5, 2.0, 1.5],
        "machine": {
            "cpu_model": "AMD EPYC",
            "cores": 2,
            "kernel": "Linux 6 x86_64",
            "python": "3.11.7",
            "git_commit": "abc123",
            "date": "2026-11-21T22:00:00Z",
            "load_average": [1.5, 1.0, 0.5],
        },
        "benchmarks": {o.name: o.to_json() for o in (ack, idle, broken)},
    }


def test_rows_one_per_figure_title_on_the_first() -> None:
    got = rows(doc())
    assert got == [
        "| command → ack latency (n = 1000) | p50 3.07 ms | — | — | — |",
        "|  | p99 12.5 ms | ≤ 10 ms | issue 2 | **fail** |",
        "| daemon idle | daemon RSS 58.4 MiB | ≤ 150 MiB | proposed | pass |",
        "| Modbus \\| TCP | error: RuntimeError: calibsim exited | | | **fail** |",
    ]


def test_render_has_the_command_machine_and_table() -> None:
    block = render(doc())
    lines = block.splitlines()
    assert lines[0] == BEGIN
    assert lines[-1] == END
    assert "- command: `bench/run --note 'shared CPUs'` (482 s of wall time; some targets" in block
    assert "AMD EPYC, 2 cores" in block
    assert "commit `abc123`" in block
    assert "load average 1.5 at the start, 2.5 at the end" in block
    assert "- note: two other engineers' tests ran" in block
    assert "| benchmark | figure | target | source issue | status |" in lines


def test_replace_block_touches_nothing_else() -> None:
    text = f"# T\n\nbefore\n{BEGIN}\nold\n{END}\nafter\n"
    new = replace_block(text, f"{BEGIN}\nnew\n{END}")
    assert new == f"# T\n\nbefore\n{BEGIN}\nnew\n{END}\nafter\n"
    assert replace_block(new, f"{BEGIN}\nnew\n{END}") == new


@pytest.mark.parametrize(
    "text",
    ["no markers\n", f"{END}\n{BEGIN}\n", f"{BEGIN}\n{END}\n{BEGIN}\n{END}\n", f"{BEGIN}\n"],
)
def test_replace_block_needs_one_ordered_block(text: str) -> None:
    with pytest.raises(ValueError, match="exactly one"):
        replace_block(text, f"{BEGIN}\n{END}")


def test_the_readme_has_the_block() -> None:
    text = (ROOT / "README.md").read_text()
    block = render(doc())
    assert block in replace_block(text, block)
