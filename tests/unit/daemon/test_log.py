"""calibd/log.py: JSON lines off a TTY (journald), the console renderer on one; every line
carries the subsystem its module logger is bound to (and the device where there is one)."""

from __future__ import annotations

import ast
import importlib
import io
import json
import logging
import pkgutil
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
from structlog.testing import capture_logs

import calibd
from calibd.core.axes import Axes
from calibd.core.axis import Axis
from calibd.core.errors import Trip
from calibd.log import configure_logging
from drivers.fake_drive import FakeDrive
from drivers.fake_sensors import FakeForceSensor

ANSI = re.compile(r"\x1b\[[0-9;]*m")


class FakeStdout(io.StringIO):
    """Captured stdout that says whether it is a terminal."""

    def __init__(self, *, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """configure_logging changes process-wide state: put structlog and the root logger back."""
    saved = structlog.get_config()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    noisy = {name: logging.getLogger(name).level for name in ("pymodbus", "transitions")}
    yield
    structlog.configure(**saved)
    root.handlers[:], root.level = handlers, level
    for name, noisy_level in noisy.items():
        logging.getLogger(name).setLevel(noisy_level)


def _configured(monkeypatch: pytest.MonkeyPatch, *, tty: bool) -> FakeStdout:
    out = FakeStdout(tty=tty)
    monkeypatch.setattr("sys.stdout", out)
    configure_logging()
    return out


@pytest.mark.usefixtures("restore_logging")
def test_json_lines_with_the_bound_subsystem_when_not_a_tty(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out = _configured(monkeypatch, tty=False)
    log = structlog.get_logger("calibd.test", subsystem="store")
    log.warning("store_queue_full", dropped=3)
    log.info("device_lost", subsystem="cls1", device="cls1-central")  # a field overrides
    logging.getLogger("pymodbus").warning("a library's stdlib record")
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(e["event"], e["level"], e["subsystem"]) for e in lines[:2]] == [
        ("store_queue_full", "warning", "store"),
        ("device_lost", "info", "cls1"),
    ]
    assert lines[0]["dropped"] == 3 and lines[0]["logger"] == "calibd.test"
    assert lines[0]["timestamp"].endswith("Z")
    assert lines[1]["device"] == "cls1-central"
    assert (lines[2]["event"], lines[2]["logger"]) == ("a library's stdlib record", "pymodbus")
    assert len(lines) == 3


@pytest.mark.usefixtures("restore_logging")
def test_console_renderer_on_a_tty(monkeypatch: pytest.MonkeyPatch) -> None:
    out = _configured(monkeypatch, tty=True)
    structlog.get_logger("calibd.test", subsystem="daemon").info("running", systems_n=6)
    text = ANSI.sub("", out.getvalue())
    assert text.count("\n") == 1
    line = text.strip()
    assert not line.startswith("{")
    assert re.search(r"\[info\s*\] running\s", line)
    assert "subsystem=daemon" in line and "systems_n=6" in line


@pytest.mark.usefixtures("restore_logging")
def test_a_module_logger_made_before_configuration_follows_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`get_logger(name, subsystem=...)` at import stays lazy: the daemon's configuration,
    made later, still applies (a `.bind()` at import would freeze the defaults)."""
    early = structlog.get_logger("calibd.early", subsystem="watchdog")
    out = _configured(monkeypatch, tty=False)
    early.error("loop_stale", loop="acu poll loop")
    entry = json.loads(out.getvalue())
    assert (entry["event"], entry["subsystem"], entry["loop"]) == (
        "loop_stale",
        "watchdog",
        "acu poll loop",
    )


def _module_loggers() -> list[tuple[str, Any]]:
    """Every calibd module with a module-level structlog logger `log`."""
    found = []
    for info in pkgutil.walk_packages(calibd.__path__, "calibd."):
        log = getattr(importlib.import_module(info.name), "log", None)
        if log is not None and hasattr(log, "info"):
            found.append((info.name, log))
    return found


MODULE_LOGGERS = _module_loggers()


def test_module_loggers_are_found() -> None:
    names = {name for name, _ in MODULE_LOGGERS}
    assert {"calibd.app", "calibd.mqtt", "calibd.subsystems.acu_motion"} <= names


@pytest.mark.parametrize(("module", "log"), MODULE_LOGGERS, ids=[m for m, _ in MODULE_LOGGERS])
def test_every_module_logger_is_lazy_and_bound_to_a_subsystem(module: str, log: Any) -> None:
    """`get_logger(name, subsystem=...)`: a proxy that follows the daemon's configuration
    (a `.bind()` at import would freeze structlog's default console output), with a subsystem."""
    assert isinstance(log, structlog._config.BoundLoggerLazyProxy), module
    if module in SHARED:  # one logger for several systems: each call names its own
        assert _calls_without_subsystem(module) == [], module
        return
    with capture_logs() as logs:
        log.info("probe")
    assert [e["event"] for e in logs] == ["probe"], module
    assert isinstance(logs[0].get("subsystem"), str), (module, logs[0])


#: modules whose one logger serves cls1 and cls2 (or every system): subsystem= on every call
SHARED = {"calibd.core.axes", "calibd.subsystems.cls_axes", "calibd.subsystems.cls_motion"}


def _calls_without_subsystem(module: str) -> list[int]:
    """Lines of `log.<level>(...)` calls that pass neither `subsystem=` nor `**fields`."""
    path = importlib.import_module(module).__file__
    assert path is not None
    tree = ast.parse(Path(path).read_text())
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "log"
        and not any(k.arg in ("subsystem", None) for k in node.keywords)
    ]


async def test_device_lost_and_back_name_the_system_and_the_device() -> None:
    cell = FakeForceSensor("cls2-load-central", tension_n=50.0)
    axes = Axes(
        [Axis("central", FakeDrive("cls2-central"), cell)], move_margin_s=1.0, time_scale=1.0
    )
    cell.lost = True
    with capture_logs() as logs, pytest.raises(Trip) as trip:
        await axes.poll()
    assert trip.value.code == "comm_loss"
    cell.lost = False
    with capture_logs() as back:
        await axes.poll()
    fields = ("event", "subsystem", "device", "axis")
    assert [tuple(e[f] for f in fields) for e in logs] == [
        ("device_lost", "cls2", "cls2-load-central", "load cell central")
    ]
    assert [tuple(e[f] for f in fields) for e in back] == [
        ("device_back", "cls2", "cls2-load-central", "load cell central")
    ]
