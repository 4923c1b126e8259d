"""`[interlocks]`: the limits of the cross-system and per-axis interlocks (docs/interlocks.md)."""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator

from calibd.cfgbase import Strict

CHIMNEY_SYSTEMS = ("acu", "cls1", "cls2", "rov")


class RunPermitCfg(Strict):
    """Run control's permit: a retained JSON `{"permit": true|false, ...}` on `topic`.

    `topic` is relative to the topic root unless it starts with `/` (then absolute, without
    the slash). Deployments of the systems in `required_for` need a granted permit."""

    topic: str = "runcontrol/permit"
    required_for: list[str] = Field(default_factory=list)

    def topic_under(self, root: str) -> str:
        """The absolute topic name under the topic root."""
        if self.topic.startswith("/"):
            return self.topic[1:]
        return f"{root.rstrip('/')}/{self.topic}"

    @model_validator(mode="after")
    def _systems(self) -> Self:
        unknown = set(self.required_for) - {"acu", "cls1", "cls2", "gt", "rov"}
        if unknown:
            raise ValueError(f"required_for: unknown systems {sorted(unknown)}")
        if not self.topic.strip("/") or any(c in self.topic for c in "#+"):
            raise ValueError("topic must be a plain topic name (no wildcards)")
        return self


class InterlocksCfg(Strict):
    """Limits of the interlock engine."""

    max_sources_in_detector: int = Field(
        1, ge=1, le=5, description="sources out of their parked position at once (GT included)"
    )
    max_in_chimney: int = Field(
        1,
        ge=1,
        le=4,
        description="acu/cls1/cls2/rov deployed at once (they share the chimney); 1 in operation",
    )
    o2_max_ppm: float = Field(10.0, gt=0, description="a gate valve opens only at or below this")
    radon_max_mbq_m3: float = Field(15.0, gt=0, description="a gate valve opens only at or below")
    following_error_m: float = Field(
        0.005, gt=0, description="motor vs encoder beyond this on a spool: slip (or stall)"
    )
    turntable_following_error_deg: float = Field(1.0, gt=0)
    stall_window_s: float = Field(
        0.5, gt=0, description="commanded motion without encoder progress for this long: stall"
    )
    rov_keepout_m: float = Field(
        1.5, ge=0, description="the ROV keeps at least this far from every deployed cable"
    )
    drive_watchdog_s: float = Field(
        1.0,
        ge=0,
        description="a drive in motion that hears no request for this long stops by itself "
        "(its COMM_TIMEOUT, written with every move and home; 0 = off): stale data stops motion",
    )
    run_permit: RunPermitCfg = RunPermitCfg()
