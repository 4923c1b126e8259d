"""The plant's configurations (sim.toml sped up), the board factory and the fault catalog."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from calibd.cfg_interlocks import CHIMNEY_SYSTEMS, InterlocksCfg
from calibd.config import load_config
from calibd.core.outbox import Outbox
from calibd.core.subsystem import Subsystem
from calibd.interlocks import InterlockBoard
from calibd.subsystems.house import House
from simulators.config import load_config as load_sim_config

TOML = Path(__file__).resolve().parents[4] / "config" / "sim.toml"
SYSTEMS = ("acu", "cls1", "cls2", "gt", "rov")  # deployment systems (each moves a source)
CHIMNEY = tuple(CHIMNEY_SYSTEMS)
IMMEDIATE = ("accepted", "rejected")
BROKEN_LOOP_N = 150.0  # a loop the physics cannot solve reads as badly over-tensioned
Clock = Callable[[], float]


@dataclass(frozen=True)
class Configs:
    """config/sim.toml with faster motion (every move still takes several polls)."""

    daemon: Any  # calibd Settings
    sim: Any  # simulator settings
    interlocks: InterlocksCfg
    house_poll_s: float = 0.25
    board_period_s: float = 0.25  # the board also evaluates after every poll of any system


@functools.cache
def configs() -> Configs:
    s = load_config(TOML)
    assert s.acu and s.cls1 and s.cls2 and s.gt and s.rov
    poll = {"poll_fast_hz": 10.0, "poll_idle_s": 1.0}
    acu = s.acu.model_copy(
        update={
            **poll,
            "speed_m_s": 5.0,
            "accel_m_s2": 50.0,
            "home_speed_m_s": 2.0,
            "move_margin_s": 1.0,
            "turntable": s.acu.turntable.model_copy(
                update={"speed_deg_s": 90.0, "accel_deg_s2": 900.0}
            ),
        }
    )
    fast_cls = {
        **poll,
        "speed_m_s": 2.0,
        "accel_m_s2": 20.0,
        "home_speed_m_s": 1.0,
        "move_margin_s": 2.0,
        "waypoint_step_m": 1.0,
    }
    gt = s.gt.model_copy(
        update={**poll, "speed_m_s": 10.0, "home_speed_m_s": 2.0, "move_margin_s": 1.0}
    )
    rov = s.rov.model_copy(
        update={
            **poll,
            "winch_speed_m_s": 5.0,
            "winch_accel_m_s2": 50.0,
            "payout_speed_m_s": 10.0,
            "home_speed_m_s": 2.0,
            "speed_max_m_s": 3.0,
            "nav_gain_per_s": 5.0,
            "settle_s": 0.1,
            "move_margin_s": 2.0,
        }
    )
    house = s.house.model_copy(update={"poll_s": Configs.house_poll_s, "valve_timeout_s": 1.0})
    daemon = s.model_copy(
        update={
            "acu": acu,
            "cls1": s.cls1.model_copy(update=fast_cls),
            "cls2": s.cls2.model_copy(update=fast_cls),
            "gt": gt,
            "rov": rov,
            "house": house,
        }
    )
    return Configs(daemon, load_sim_config(TOML, env={}), s.interlocks)


def make_board(
    subsystems: dict[str, Subsystem], house: House, outbox: Outbox, cfg: InterlocksCfg
) -> InterlockBoard:
    """The engine under test (the one line to adapt when its constructor changes)."""
    return InterlockBoard(subsystems, house, outbox, cfg, period_s=configs().board_period_s)


@dataclass(frozen=True)
class Fault:
    """One injectable fault: `device` as the rig names it, `kind` what goes wrong."""

    device: str
    kind: str


DRIVE_FAULTS = ("alarm", "lost", "stall", "slip", "limit_pos", "limit_neg", "power_loss")
CELL_FAULTS = ("snag", "slack", "cell_lost", "cell_error")
IO_FAULTS = ("estop", "o2_high", "radon_high", "lost")


def fault_catalog() -> list[Fault]:
    """Every fault on every device of the rig."""
    d = configs().daemon
    spools = [f"acu/{u.name}" for u in d.acu.units]
    spools += [f"{c}/{a}" for c in ("cls1", "cls2") for a in ("central", "side")]
    spools += ["gt/top", "gt/bottom", "rov/winch"]
    out = [Fault(dev, k) for dev in ["acu/turntable", *spools] for k in DRIVE_FAULTS]
    out += [Fault(dev, k) for dev in spools for k in CELL_FAULTS]
    out += [Fault("rov/vehicle", k) for k in ("lost", "thruster")]
    out += [Fault(f"{s}/uss", "lost") for s in ("cls1", "cls2", "rov")]
    out += [Fault("house/io", k) for k in IO_FAULTS]
    out += [Fault("house/io", f"stuck:{v}") for v in d.house.valves]
    return out
