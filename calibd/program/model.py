"""A calibration program as written in config/programs/*.toml, parsed into frozen models.

```toml
name = "weekly"
title = "Weekly calibration (Table 2)"

[[steps]]                      # a source taken to its points, then retracted
system = "acu"
source = "AmC"                 # the kind of source; the inventory says which one is mounted
unit = "A"                     # ACU only, optional: the unit carrying that kind
daq_s = 60.0                   # DAQ time at every point
points = [{z_m = 15.0}, {z_m = 0.0}, {z_m = -15.0}]

[[steps]]                      # the laser: an intensity scan at every point (docs/programs.md)
system = "acu"
source = "laser"
daq_s = 120.0                  # with `intensities`: the DAQ time at each intensity
intensities = [0.01, 0.02, 0.04]   # relative transmission of the attenuator, 1e-4 .. 1
# dwell_s = [60.0, 120.0, 240.0]   # optional: one DAQ time per intensity instead
# rate_hz = 100.0                  # optional: else [acu.laser] rate_default_hz
points = [{z_m = 0.0}]

[[steps]]                      # a manual step: the program pauses until program.resume
kind = "mount"
system = "acu"
unit = "B"
source = "Cs137"
message = "an expert mounts a Cs137 source on ACU unit B"
```
"""

from __future__ import annotations

import math
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    model_validator,
)

#: the position keys of a point on each kind of system (as in status `position`)
POINT_KEYS: dict[str, tuple[str, ...]] = {
    "acu": ("z_m",),
    "cls": ("x_m", "z_m"),
    "gt": ("theta_deg",),
    "rov": ("x_m", "y_m", "z_m"),
}


def family(system: str) -> str:
    """`cls1` -> `cls`."""
    return system.rstrip("0123456789")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PointsStep(_Strict):
    kind: Literal["points"] = "points"
    system: str = Field(pattern=r"^(acu|cls\d|gt|rov)$")
    source: str = Field(min_length=1, description="the kind of source, e.g. AmC, laser")
    unit: str | None = Field(None, description="ACU only: the unit (default: the one carrying it)")
    daq_s: float = Field(
        gt=0, le=86_400, description="DAQ time at each point (a laser scan: at each intensity)"
    )
    points: tuple[dict[str, float], ...] = Field(min_length=1, max_length=1000)
    intensities: tuple[float, ...] | None = Field(
        None,
        min_length=1,
        max_length=1000,
        description="laser steps: the intensity scan (relative transmission) at every point",
    )
    dwell_s: tuple[float, ...] | None = Field(
        None, description="laser scans: the DAQ time of each intensity (default: daq_s each)"
    )
    rate_hz: float | None = Field(None, gt=0, description="laser scans: the pulse rate")

    @model_validator(mode="after")
    def _points(self) -> Self:
        keys = POINT_KEYS[family(self.system)]
        for i, point in enumerate(self.points):
            if tuple(sorted(point)) != tuple(sorted(keys)):
                raise ValueError(
                    f"point {i + 1}: {self.system} points have exactly {', '.join(keys)}"
                    f" (got {', '.join(sorted(point)) or 'nothing'})"
                )
            bad = [k for k, v in point.items() if not math.isfinite(v)]
            if bad:
                raise ValueError(f"point {i + 1}: {', '.join(bad)} is not a finite number")
        if self.unit is not None and family(self.system) != "acu":
            raise ValueError("`unit` is for ACU steps only")
        self._scan()
        return self

    def _scan(self) -> None:
        if self.intensities is None:
            if self.dwell_s is not None or self.rate_hz is not None:
                raise ValueError("`dwell_s` and `rate_hz` belong to a laser scan (`intensities`)")
            return
        if family(self.system) != "acu" or self.source != "laser":
            raise ValueError('`intensities` is for ACU laser steps only (source = "laser")')
        if self.dwell_s is not None and len(self.dwell_s) != len(self.intensities):
            raise ValueError(
                f"dwell_s: {len(self.dwell_s)} dwells for {len(self.intensities)} intensities"
            )
        bad = [v for v in (*self.intensities, *(self.dwell_s or ())) if not math.isfinite(v)]
        if bad or any(d <= 0 for d in self.dwell_s or ()):
            raise ValueError("intensities and dwells are finite, dwells > 0")

    def dwells(self) -> tuple[float, ...]:
        """A scan's DAQ time per intensity (empty: no scan)."""
        if self.intensities is None:
            return ()
        return self.dwell_s or (self.daq_s,) * len(self.intensities)

    @property
    def point_s(self) -> float:
        """DAQ time at each point: daq_s, or a scan's dwells."""
        return sum(self.dwells()) if self.intensities is not None else self.daq_s

    @property
    def runs(self) -> int:
        """DAQ runs of the step: one per point, a scan one per point and intensity."""
        return len(self.points) * (len(self.intensities) if self.intensities else 1)

    def scan_args(self) -> dict[str, Any] | None:
        """The `laser_scan` args at each point (None: not a scan)."""
        if self.intensities is None:
            return None
        args: dict[str, Any] = {
            "intensities": list(self.intensities),
            "dwell_s": list(self.dwells()),
        }
        if self.rate_hz is not None:
            args["rate_hz"] = self.rate_hz
        return args


class MountStep(_Strict):
    kind: Literal["mount"]
    system: str = Field(pattern=r"^(acu|cls\d|gt|rov)$")
    unit: str | None = None
    source: str = Field(min_length=1, description="the kind of source to be mounted")
    message: str = ""


def _kind(value: object) -> str:
    if isinstance(value, dict):
        return str(value.get("kind", "points"))
    return str(getattr(value, "kind", "points"))


Step = Annotated[
    Annotated[PointsStep, Tag("points")] | Annotated[MountStep, Tag("mount")],
    Discriminator(
        _kind, custom_error_type="step_kind", custom_error_message="kind is points or mount"
    ),
]


class Program(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    title: str = ""
    steps: tuple[Step, ...]

    @model_validator(mode="after")
    def _some_steps(self) -> Self:
        if not self.steps:
            raise ValueError("a program has at least one step")
        return self

    @property
    def points(self) -> int:
        return sum(len(s.points) for s in self.steps if isinstance(s, PointsStep))

    @property
    def daq_s(self) -> float:
        return sum(s.point_s * len(s.points) for s in self.steps if isinstance(s, PointsStep))


class ProgramError(Exception):
    """A program that cannot be read; `problems` lists every one (with its TOML path)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def resolve(ref: str, programs_dir: Path) -> Path:
    """A program reference: a name in `programs_dir` (`weekly`) or a path to a TOML file."""
    if "/" in ref or ref.endswith(".toml"):
        return Path(ref)
    return programs_dir / f"{ref}.toml"


def load_program(ref: str | Path, programs_dir: Path = Path(".")) -> Program:
    """Read and validate a program; raise ProgramError with every problem found."""
    path = resolve(str(ref), programs_dir)
    try:
        with path.open("rb") as fh:
            doc = tomllib.load(fh)
    except FileNotFoundError as exc:
        raise ProgramError([f"{path}: no such program"]) from exc
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ProgramError([f"{path}: {exc}"]) from exc
    try:
        return Program.model_validate(doc)
    except ValidationError as exc:
        raise ProgramError(
            [_where(e["loc"]) + ": " + e["msg"].removeprefix("Value error, ") for e in exc.errors()]
        ) from exc


def _where(loc: tuple[int | str, ...]) -> str:
    out = ""
    previous: int | str | None = None
    for part in loc:
        if isinstance(part, int):
            out += f"[{part + 1}]"
        elif not (isinstance(previous, int) and part in ("points", "mount")):  # not a union tag
            out += ("." if out else "") + part
        previous = part
    return out or "program"
