"""The ACU state diagram in docs/architecture.md is the ACU's TRANSITIONS table, arrow for arrow:
the diagram is kept by hand, this test keeps it from drifting."""

from __future__ import annotations

import re
from pathlib import Path

from calibd.subsystems.acu import STATES, TRANSITIONS

ROOT = Path(__file__).resolve().parents[3]
ARCHITECTURE = ROOT / "docs" / "architecture.md"
_ARROW = re.compile(r"(\[\*\]|\w+) --> (\w+)(?: : (\w+)(?: \((.+)\))?)?")

Edge = tuple[str, str, str]  # (source, dest, trigger)


def _acu_diagram() -> list[str]:
    """The lines of the mermaid block under `## ACU state machine`."""
    section = ARCHITECTURE.read_text(encoding="utf-8").split("\n## ACU state machine\n", 1)[1]
    section = section.split("\n## ", 1)[0]
    blocks = re.findall(r"```mermaid\n(.*?)```", section, flags=re.DOTALL)
    assert len(blocks) == 1, "one mermaid block under '## ACU state machine'"
    lines = [line.strip() for line in blocks[0].splitlines() if line.strip()]
    assert lines[0] == "stateDiagram-v2"
    return lines[1:]


def _diagram_edges() -> tuple[str, list[Edge], dict[Edge, str]]:
    """(initial state, arrows, the annotation in brackets of each arrow that has one)."""
    initial = ""
    edges: list[Edge] = []
    notes: dict[Edge, str] = {}
    for line in _acu_diagram():
        match = _ARROW.fullmatch(line)
        assert match is not None, f"not an arrow of the diagram: {line!r}"
        source, dest, trigger, note = match.groups()
        if source == "[*]":
            assert trigger is None and not initial
            initial = dest
            continue
        assert trigger is not None, f"an arrow without its trigger: {line!r}"
        edges.append((source, dest, trigger))
        if note is not None:
            notes[(source, dest, trigger)] = note
    return initial, edges, notes


def _table_edges() -> list[Edge]:
    edges: list[Edge] = []
    for row in TRANSITIONS:
        sources = row["source"]
        if sources == "*":
            sources = STATES
        elif isinstance(sources, str):
            sources = [sources]
        edges += [(source, row["dest"], row["trigger"]) for source in sources]
    return edges


def test_the_diagram_is_the_transition_table() -> None:
    _, drawn, _ = _diagram_edges()
    table = _table_edges()
    assert len(drawn) == len(set(drawn)), "an arrow drawn twice"
    missing = [e for e in table if e not in drawn]
    extra = [e for e in drawn if e not in table]
    assert not missing, f"in TRANSITIONS, not in docs/architecture.md: {missing}"
    assert not extra, f"in docs/architecture.md, not in TRANSITIONS: {extra}"
    assert {s for edge in drawn for s in edge[:2]} == set(STATES)


def test_guarded_arrows_say_when() -> None:
    """Where one trigger leaves one state by several rows (tried in table order), each arrow
    says in brackets which case it is."""
    _, _, notes = _diagram_edges()
    table = _table_edges()
    for source, dest, trigger in table:
        alternatives = [e for e in table if e[0] == source and e[2] == trigger]
        if len(alternatives) > 1:
            assert (source, dest, trigger) in notes, (source, dest, trigger)


def test_the_initial_state_is_the_machine_s() -> None:
    source = (ROOT / "calibd" / "subsystems" / "acu.py").read_text(encoding="utf-8")
    initial, _, _ = _diagram_edges()
    assert f'attach(self, STATES, TRANSITIONS, "{initial}")' in source
