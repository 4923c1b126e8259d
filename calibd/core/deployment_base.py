"""The common ground of the parts of a deployment system (acu, cls1/cls2, gt, rov): the
`Hardware` protocol (its devices as its FSM sees them) and `DeploymentBase`, the `Subsystem`
with that hardware, its poll rates and the state its parts share (`calibd/core/deployment.py`,
`deployment_recovery.py`, `deployment_inventory.py`, `deployment_presence.py`)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, ClassVar, Protocol

from calibd.core.axis import Axis
from calibd.core.journal import SystemJournal
from calibd.core.outbox import Outbox
from calibd.core.subsystem import Subsystem


class Hardware(Protocol):
    """The devices of one deployment system, as its FSM sees them."""

    homed: bool

    async def poll(self) -> None:
        """Read every device once; raise Trip(comm_loss) for a lost device."""
        ...

    async def wake(self) -> None:
        """Wake the motion sequences waiting for fresh readings."""
        ...

    async def wait_poll(self) -> None:
        """Until the next poll's readings have been judged."""
        ...

    def check_protections(self) -> None:
        """Raise Trip for the first protection the latest readings violate."""
        ...

    async def halt_all(self) -> None:
        """Quick-stop every drive; never raises for a silent device."""
        ...

    async def reset_alarms(self) -> None:
        """Clear drive alarms whose cause is gone."""
        ...

    def reference_lost(self) -> bool:
        """A drive no longer knows its position (power loss)."""
        ...

    def any_moving(self) -> bool:
        """Any drive in motion."""
        ...

    def telemetry(self) -> dict[str, Any]:
        """Raw axis data for the telemetry topic."""
        ...

    def drive_axes(self) -> Mapping[str, Axis]:
        """Every drive axis by name (journaled; checked by restart recovery)."""
        ...


class DeploymentBase(Subsystem):
    """A subsystem that moves a source (or vehicle) in and out through its `Hardware`."""

    STATES: ClassVar[list[str]]
    TRANSITIONS: ClassVar[list[dict[str, Any]]]
    MOTION_STATES: ClassVar[frozenset[str]]

    def __init__(
        self,
        name: str,
        outbox: Outbox,
        hw: Hardware,
        *,
        poll_fast_hz: float,
        poll_idle_s: float,
        time_scale: float = 1.0,
    ) -> None:
        super().__init__(name, outbox, time_scale=time_scale)
        self.hw = hw
        self.poll_fast_hz = poll_fast_hz
        self.poll_idle_s = poll_idle_s
        self.target: Any = None  # the running/last move's goal, in the system's own terms
        self._tripping = False
        self._poll_now = asyncio.Event()
        self.polls = 0
        #: the store's record of this system (None: nothing persisted, e.g. unit tests)
        self.journal: SystemJournal | None = None
        self.recovery_tolerance_counts = 64.0
        self._recovered = False
