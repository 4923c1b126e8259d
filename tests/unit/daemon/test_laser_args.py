"""The laser's emission condition (row `laser_emission`) and argument ranges, as pure functions;
and the laser rows are in the interlock tables."""

from __future__ import annotations

from dataclasses import replace

import pytest

from calibd.cfg_laser import LaserCfg
from calibd.core.commands import validate_args
from calibd.core.errors import CommandError, ErrorCode
from calibd.core.system_rules import SYSTEM_INTERLOCKS
from calibd.subsystems.acu_laser_args import (
    LaserOnArgs,
    LaserScanArgs,
    Site,
    blocker,
    check_laser_args,
)

CFG = LaserCfg(unit="D", endpoint="serial:///tmp/x/acu-laser", address=1)
OK = Site(state="AT_POSITION", unit="D", z_m=0.0, valve="open", moving=False, latched=None)


def test_emission_permitted_where_it_may_be() -> None:
    assert blocker(CFG, 17.4, OK) is None
    assert blocker(CFG, 17.4, replace(OK, state="STOPPED")) is None


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"latched": "snag"}, "latched in FAULT (snag)"),
        ({"state": "PARKED"}, "the ACU is PARKED"),
        ({"state": "MOVING"}, "the ACU is MOVING"),
        ({"unit": "A"}, "unit D is not under the port (unit A)"),
        ({"z_m": 18.0}, "z = 18.000 m) is not deployed below z = 17.4 m"),
        ({"z_m": None}, "(unknown) is not deployed"),
        ({"valve": "moving"}, "gate valve is moving"),
        ({"valve": "unknown"}, "gate valve is unknown"),
        ({"moving": True}, "moving (require_still)"),
    ],
)
def test_emission_blocked(change: dict[str, object], why: str) -> None:
    found = blocker(CFG, 17.4, replace(OK, **change))  # type: ignore[arg-type]
    assert found is not None and why in found


def test_require_still_false_lets_it_emit_while_moving() -> None:
    free = CFG.model_copy(update={"require_still": False})
    assert blocker(free, 17.4, replace(OK, state="MOVING", moving=True)) is None
    assert blocker(free, 17.4, replace(OK, state="RETRACTING", moving=True)) is not None


@pytest.mark.parametrize(
    ("action", "args", "message"),
    [
        ("laser_on", {"intensity": 1.5}, "intensity 1.5 outside"),
        ("laser_on", {"intensity": 5e-5}, "intensity 5e-05 outside"),
        ("laser_on", {"intensity": 0.1, "rate_hz": 0.5}, "rate_hz 0.5 outside"),
        ("laser_scan", {"intensities": [0.1], "dwell_s": 0.0}, "dwell_s 0.0 outside"),
        ("laser_scan", {"intensities": [0.1] * 65, "dwell_s": 1.0}, "65 steps; at most 64"),
    ],
)
def test_out_of_range(action: str, args: dict[str, object], message: str) -> None:
    model = LaserOnArgs if action == "laser_on" else LaserScanArgs
    with pytest.raises(CommandError, match=message) as exc:
        check_laser_args(CFG, action, validate_args(model, args))
    assert exc.value.code == ErrorCode.OUT_OF_RANGE


def test_limits_accepted_and_a_dwell_per_step() -> None:
    check_laser_args(CFG, "laser_on", validate_args(LaserOnArgs, {"intensity": 1e-4}))
    check_laser_args(CFG, "laser_on", validate_args(LaserOnArgs, {"intensity": 1}))
    scan = validate_args(LaserScanArgs, {"intensities": [0.1, 0.2], "dwell_s": [1.0, 2.0]})
    assert scan.dwells() == [1.0, 2.0]
    with pytest.raises(CommandError, match="2 dwells for 1 intensities") as exc:
        validate_args(LaserScanArgs, {"intensities": [0.1], "dwell_s": [1.0, 2.0]})
    assert exc.value.code == ErrorCode.BAD_REQUEST


def test_the_laser_rows_are_in_the_system_table() -> None:
    ids = {row.id for row in SYSTEM_INTERLOCKS}
    assert {"laser_emission", "laser_comm_loss", "laser_overtemp", "laser_fault"} <= ids
