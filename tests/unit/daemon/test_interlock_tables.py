"""The interlock tables are complete: every trip code and warning the daemon can raise is a row
of one table, ids are unique, and docs/interlocks.md documents every row."""

from __future__ import annotations

import ast
from pathlib import Path

from calibd.core.axis_rules import AXIS_INTERLOCKS
from calibd.core.system_rules import SYSTEM_INTERLOCKS
from calibd.plant_rules import PLANT_INTERLOCKS

ROOT = Path(__file__).resolve().parents[3]


def _ids() -> list[str]:
    return (
        [r.id for r, _ in AXIS_INTERLOCKS]
        + [r.id for r, _, _ in PLANT_INTERLOCKS]
        + [r.id for r in SYSTEM_INTERLOCKS]
    )


def _constants(node: ast.expr) -> set[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.IfExp):
        return _constants(node.body) | _constants(node.orelse)
    return set()


def _raised_codes() -> set[str]:
    """First arguments of Trip(...) and warn(...) in the daemon's source, and string constants
    assigned to a name `code` (e.g. `code = "watchdog" if ... else "thruster_fault"`)."""
    codes: set[str] = set()
    for path in (ROOT / "calibd").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and node.args:
                f = node.func
                name = f.id if isinstance(f, ast.Name) else getattr(f, "attr", "")
                if name in {"Trip", "warn"}:
                    codes |= _constants(node.args[0])
            if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "code" for t in node.targets
            ):
                codes |= _constants(node.value)
    return codes


def test_ids_are_unique() -> None:
    ids = _ids()
    assert len(ids) == len(set(ids))


def test_every_raised_code_is_a_row() -> None:
    raised = _raised_codes()
    assert {"valve_timeout", "watchdog", "thruster_fault", "uss_mismatch"} <= raised  # it scans
    assert raised - set(_ids()) == set()


def test_docs_document_every_row() -> None:
    doc = (ROOT / "docs" / "interlocks.md").read_text()
    missing = [i for i in _ids() if f"| `{i}` |" not in doc]
    assert missing == []
