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
from typing import Annotated, Literal, Self

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
    daq_s: float = Field(gt=0, le=86_400, description="DAQ time at each point")
    points: tuple[dict[str, float], ...] = Field(min_length=1, max_length=1000)

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
        return self


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
        return sum(s.daq_s * len(s.points) for s in self.steps if isinstance(s, PointsStep))


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
