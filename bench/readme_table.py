"""The README's benchmark block, rendered from a suite document (pure).

Only the text between `BEGIN` and `END` in README.md belongs to the suite; `replace_block`
swaps it and leaves every other byte of the file as it was.
"""

from __future__ import annotations

from typing import Any

from figures import fmt

BEGIN = "<!-- bench:begin -->"
END = "<!-- bench:end -->"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _status(verdict: bool | None) -> str:
    return {True: "pass", False: "**fail**", None: "—"}[verdict]


def _value(fig: dict[str, Any]) -> str:
    unit = f" {fig['unit']}" if fig.get("unit") else ""
    return f"{fig['name']} {fmt(fig.get('value'))}{unit}"


def _source(target: dict[str, Any] | None) -> str:
    return "—" if target is None else str(target["source"])


def rows(doc: dict[str, Any]) -> list[str]:
    """One table row per figure; the benchmark's title (and n) on its first row."""
    out = []
    for bench in doc["benchmarks"].values():
        title = str(bench["title"])
        if bench.get("n") is not None:
            title += f" (n = {bench['n']})"
        if bench.get("error"):
            out.append(f"| {_cell(title)} | error: {_cell(str(bench['error']))} | | | **fail** |")
            continue
        for i, fig in enumerate(bench["figures"]):
            target = fig.get("target")
            cells = [
                title if i == 0 else "",
                _value(fig),
                "—" if target is None else str(target["text"]),
                _source(target),
                _status(fig.get("pass")),
            ]
            out.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return out


def _machine(m: dict[str, Any]) -> str:
    load = m.get("load_average") or []
    load_text = f", load average {load[0]:g} at the start" if load else ""
    return (
        f"{m.get('cpu_model')}, {m.get('cores')} cores, {m.get('kernel')}, "
        f"Python {m.get('python')}, commit `{m.get('git_commit')}`, {m.get('date')}{load_text}"
    )


def render(doc: dict[str, Any]) -> str:
    """The whole block, markers included."""
    verdict = "every target met" if doc["pass"] else "some targets missed (**fail** below)"
    end_load = (doc.get("load_average_end") or [None])[0]
    lines = [
        BEGIN,
        "## Benchmarks",
        "",
        "`bench/run` runs the benchmark suite and prints one JSON document: the machine, and per",
        "benchmark its figures, targets (the issue that set each, or `proposed` with the",
        "reasoning), pass/fail, n and wall time. Method, targets and options:",
        "[bench/README.md](bench/README.md). Latest figures:",
        "",
        f"- command: `{doc['command']}` ({doc['wall_s']:.0f} s of wall time; {verdict})",
        f"- machine: {_machine(doc['machine'])}"
        + (f", {end_load:g} at the end" if end_load is not None else ""),
    ]
    if doc.get("note"):
        lines.append(f"- note: {doc['note']}")
    lines += [
        "",
        "| benchmark | figure | target | source issue | status |",
        "|---|---|---|---|---|",
        *rows(doc),
        END,
    ]
    return "\n".join(lines)


def replace_block(text: str, block: str) -> str:
    """`text` with the part from BEGIN to END (inclusive) replaced by `block`."""
    start = text.find(BEGIN)
    end = text.find(END)
    if start < 0 or end < 0 or end < start or text.count(BEGIN) != 1 or text.count(END) != 1:
        raise ValueError(f"README needs exactly one {BEGIN} ... {END} block, in that order")
    if not (block.startswith(BEGIN) and block.endswith(END)):
        raise ValueError("the block must start with BEGIN and end with END")
    return text[:start] + block + text[end + len(END) :]
