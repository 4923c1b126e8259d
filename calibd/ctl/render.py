"""Text for the operator, as pure functions of the contract's documents: the systems table,
the daemon line, the interlock board, program progress (bar, ETA) and reply errors. ASCII only,
so any terminal and any log file can show it."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

SYSTEM_ORDER = ("acu", "cls1", "cls2", "gt", "rov", "house")
HEADERS = ("SYSTEM", "STATE", "HOMED", "DEPLOYED", "SOURCE", "POSITION", "TARGET", "FAULT", "BUSY")
BAR_WIDTH = 30
#: program states after which nothing more happens to that run
PROGRAM_ENDS = frozenset({"COMPLETED", "ABORTED", "FAILED"})


def ordered(names: Iterable[str]) -> list[str]:
    """The contract's systems in their usual order, then any other name alphabetically."""
    known = {n: i for i, n in enumerate(SYSTEM_ORDER)}
    return sorted(names, key=lambda n: (known.get(n, len(known)), n))


def _flag(value: Any) -> str:
    return "-" if value is None else ("yes" if value else "no")


def _number(key: str, value: Any) -> str:
    name, digits, unit = key, 3, ""
    if key.endswith("_deg"):
        name, digits, unit = key[: -len("_deg")], 2, "deg"
    elif key.endswith("_m"):
        name, unit = key[: -len("_m")], "m"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"{name}={'-' if value is None else value}"
    return f"{name}={value:.{digits}f}{unit}"


def fmt_position(pos: Any) -> str:
    """`{"z_m": 5.00001, "unit": "A"}` -> `z=5.000m unit=A`; the house: valves, O2, radon."""
    if not isinstance(pos, Mapping) or all(v is None for v in pos.values()):
        return "-"
    if "valves" in pos:  # the house: which valves are not closed; house_line has the rest
        valves = pos.get("valves") or {}
        other = [f"{k}={v}" for k, v in valves.items() if v != "closed"]
        text = f"valves {' '.join(other)}" if other else "valves closed"
        return text + (" E-STOP OPEN" if pos.get("estop_ok") is False else "")
    return " ".join(
        f"unit={v if v is not None else '-'}" if k == "unit" else _number(k, v)
        for k, v in pos.items()
        if not isinstance(v, Mapping | list)
    )


def house_line(doc: Any) -> str | None:
    """`house: valves acu=open cls1=closed; O2 4.0 ppm; Rn 8.2 mBq/m3; e-stop ok`."""
    pos = doc.get("position") if isinstance(doc, Mapping) else None
    if not isinstance(pos, Mapping):
        return None
    valves = pos.get("valves") or {}
    parts = ["valves " + (" ".join(f"{k}={v}" for k, v in valves.items()) or "none")]
    if pos.get("o2_ppm") is not None:
        parts.append(f"O2 {pos['o2_ppm']} ppm")
    if pos.get("radon_mbq_m3") is not None:
        parts.append(f"Rn {pos['radon_mbq_m3']} mBq/m3")
    if pos.get("estop_ok") is not None:
        parts.append("e-stop ok" if pos["estop_ok"] else "E-STOP CIRCUIT OPEN")
    return "house: " + "; ".join(parts)


def status_row(name: str, doc: Mapping[str, Any]) -> tuple[str, ...]:
    fault = doc.get("fault") or {}
    command = doc.get("command") or {}
    busy = _flag(doc.get("busy"))
    if doc.get("busy") and command.get("action"):
        busy = f"yes ({command['action']})"
    return (
        name,
        str(doc.get("state", "?")),
        _flag(doc.get("homed")),
        _flag(doc.get("deployed")),
        str(doc.get("source") or "-"),
        fmt_position(doc.get("position")),
        fmt_position(doc.get("target")),
        str(fault.get("code") or "-"),
        busy,
    )


def table(rows: Sequence[Sequence[str]], headers: Sequence[str] = HEADERS) -> list[str]:
    widths = [max(len(str(r[i])) for r in (headers, *rows)) for i in range(len(headers))]
    return [
        "  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        for row in (headers, *rows)
    ]


def status_table(statuses: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The systems table, then the house's valves and environment."""
    lines = table([status_row(n, statuses[n]) for n in ordered(statuses)])
    house = house_line(statuses.get("house"))
    return [*lines, house] if house else lines


def daemon_state(doc: Mapping[str, Any]) -> str:
    """`online (calibd 0.1.0, session 3, started 2026-11-21T12:40:47.251Z)`."""
    extra = [
        f"calibd {doc['version']}" if doc.get("version") else "",
        f"session {doc['session']}" if doc.get("session") is not None else "",
        f"started {doc['started_at']}" if doc.get("started_at") else "",
    ]
    detail = ", ".join(e for e in extra if e)
    return str(doc.get("state", "?")) + (f" ({detail})" if detail else "")


def daemon_line(doc: Any) -> str:
    if not isinstance(doc, Mapping):
        return "daemon: unknown (nothing retained on daemon/state)"
    return f"daemon: {daemon_state(doc)}"


def active_interlocks(doc: Any) -> list[Mapping[str, Any]]:
    if not isinstance(doc, Mapping) or not isinstance(doc.get("active"), list):
        return []
    return [e for e in doc["active"] if isinstance(e, Mapping)]


def interlocks_summary(doc: Any) -> str:
    active = active_interlocks(doc)
    if not active:
        return "interlocks: none active"
    counts: dict[str, int] = {}
    for entry in active:
        sev = str(entry.get("severity", "?"))
        counts[sev] = counts.get(sev, 0) + 1
    detail = ", ".join(f"{n} {sev}" for sev, n in sorted(counts.items()))
    return f"interlocks: {len(active)} active ({detail})"


def interlock_lines(doc: Any) -> list[str]:
    rows = [
        (
            str(e.get("severity", "?")),
            str(e.get("id", "?")),
            str(e.get("system", "?")),
            "latched" if e.get("latched") else "",
            str(e.get("message", "")),
        )
        for e in active_interlocks(doc)
    ]
    return table(rows, ("SEVERITY", "ID", "SYSTEM", "LATCHED", "MESSAGE")) if rows else []


def bar(progress: Any, width: int = BAR_WIDTH) -> str:
    """`[#########.....................]  30%` for a progress in [0, 1]."""
    p = float(progress) if isinstance(progress, int | float) and math.isfinite(progress) else 0.0
    p = min(max(p, 0.0), 1.0)
    filled = int(p * width + 1e-9)
    return f"[{'#' * filled}{'.' * (width - filled)}] {round(p * 100):3d}%"


def fmt_eta(seconds: Any) -> str:
    """123.0 -> `2m03s`; 3725 -> `1h02m`; None -> `-`."""
    if not isinstance(seconds, int | float) or not math.isfinite(seconds) or seconds < 0:
        return "-"
    s = round(seconds)
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    if s >= 60:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s}s"


def _where(doc: Mapping[str, Any]) -> list[str]:
    """`step 2/4`, `point 3` (1-based, within the step), `7/15 points` (done of the program)."""
    out = []
    if doc.get("step") is not None:
        out.append(f"step {doc['step']}/{doc.get('steps', '?')}")
    if doc.get("point") is not None:
        out.append(f"point {doc['point']}")
    if doc.get("points") is not None:
        out.append(f"{doc.get('done_points', '?')}/{doc['points']} points")
    return out


def program_line(doc: Any, *, with_bar: bool = True) -> str:
    """One line: program, run, state, step/point, bar, ETA, where, and the reason if any."""
    if not isinstance(doc, Mapping):
        return "program: none (nothing retained on program/status)"
    state = str(doc.get("state", "?"))
    if state == "IDLE" and not doc.get("program"):
        return "program: IDLE (none has run)"
    head = f"program {doc.get('program') or '-'}"
    if doc.get("run"):
        head += f" ({doc['run']})"
    parts = [head, state]
    if state != "IDLE":
        parts += _where(doc)
        if with_bar:
            parts.append(bar(doc.get("progress")))
        if state not in PROGRAM_ENDS:
            parts.append(f"ETA {fmt_eta(doc.get('eta_s'))}")
        where = " ".join(str(doc[k]) for k in ("system", "source") if doc.get(k))
        parts.append(where)
    if doc.get("reason"):
        parts.append(f"reason: {doc['reason']}")
    return "  ".join(p for p in parts if p)


def label(system: str | None, action: str) -> str:
    return action if system is None else f"{system} {action}"


def reply_error(what: str, reply: Mapping[str, Any]) -> list[str]:
    """`calibctl: acu deploy rejected: out_of_range: z_m 99.0 outside [...]`, then one line per
    problem when the reply lists them (an invalid program)."""
    err = reply.get("error") or {}
    code = err.get("code") if isinstance(err, Mapping) else None
    message = str(err.get("message") or "") if isinstance(err, Mapping) else ""
    problems = reply.get("problems")
    problems = [str(p) for p in problems] if isinstance(problems, list) else []
    if problems and problems[0] in message:  # the message repeats them: keep its head
        message = message.split(problems[0])[0].rstrip(" :;")
    text = f"calibctl: {what} {reply.get('result', '?')}"
    if code:
        text += f": {code}"
    if message:
        text += f": {message}"
    return [text, *(f"  - {p}" for p in problems)]


def results_text(results: Any) -> str:
    """A global command's `results` map: `acu=tripped cls1=tripped`."""
    if not isinstance(results, Mapping) or not results:
        return "(no system concerned)"
    return " ".join(f"{k}={results[k]}" for k in ordered(results))
