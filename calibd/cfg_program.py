"""`[program]`: where calibration programs live, and how each point's DAQ run is taken."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from calibd.cfgbase import Strict


class ProgramCfg(Strict):
    dir: Path = Field(
        Path("/etc/calibd/programs"),
        description="where `program.run` finds a program by name (`<dir>/<name>.toml`)",
    )
    daq: Literal["dwell", "handshake"] = Field(
        "dwell",
        description="per point: `handshake` publishes {root}/daq/request and waits for"
        " {root}/daq/done; `dwell` (no DAQ attached) waits the point's DAQ time",
    )
    daq_timeout_s: float = Field(
        300.0,
        gt=0,
        description="handshake: how long past the point's DAQ time the program waits for"
        " daq/done before it suspends (daq_timeout)",
    )
    valve_travel_s: float = Field(
        3.0, ge=0, description="ETA only: the time a gate valve takes to open or close"
    )
