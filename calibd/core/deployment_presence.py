"""Where a deployment system is, for the interlock board: its `Presence` (deployed, inside,
moving, faulted, source, gate valve, cable segments, vehicle point) and which actions take a
system that is not inside into the detector (`enters`)."""

from __future__ import annotations

from typing import Any

from calibd.core.deployment_base import DeploymentBase
from calibd.core.presence import Point, Presence, Segment

#: actions that never take a parked system into the detector (every other motion does)
NOT_ENTRY = frozenset(
    {"status", "stop", "reset", "home", "select", "retract", "laser_on", "laser_off", "laser_scan"}
)


def enters(action: str, deployed: bool) -> bool:
    """Whether `action` takes a system that is not inside into the detector: every motion but
    select/retract/home, and `home` too when the system is off its home switch (homing then
    opens its gate valve: the source may be anywhere below it)."""
    return action not in NOT_ENTRY or (action == "home" and deployed)


class PresenceReport(DeploymentBase):
    """A deployment system's presence, as the interlock board reads it."""

    @property
    def valve(self) -> str | None:
        """The gate valve this system passes (None: none, e.g. the GT outside the acrylic)."""
        valve = getattr(getattr(self, "cfg", None), "valve", None)
        return valve if isinstance(valve, str) else None

    def is_deployed(self) -> bool:
        """Off the home switch (status `deployed`). The subsystems answer without building
        their whole status: the board asks every system 50 times a second."""
        return bool(self.status_fields().get("deployed"))

    def present_source(self) -> str | None:
        """The source on the deployed axis (status `source`)."""
        source = self.status_fields().get("source")
        return None if source is None else str(source)

    def presence(self) -> Presence:
        """`inside`: the source is (or is about to be) in the detector. A system off its home
        switch with its gate valve closed is not (the closed valve proves its source is above
        it: it closes only with nothing in its path); one running an entry command is, from
        the moment the command is accepted (so two systems cannot both be let in)."""
        deployed = self.is_deployed()
        valve, valves = self.valve, getattr(self, "valves", None)
        sealed = valve is not None and valves is not None and valves.valve(valve) == "closed"
        entering = self.command is not None and enters(self.command.action, deployed)
        inside = entering or (deployed and not sealed)
        return Presence(
            deployed=deployed,
            inside=inside,
            moving=self.state in self.MOTION_STATES or self.hw.any_moving(),
            faulted=self.state == "FAULT",
            source=self.present_source(),
            valve=valve,
            cables=self.cables() if deployed and not sealed else (),
            known=self.polls > 0,
            point=self.point(),
        )

    def cables(self) -> tuple[Segment, ...]:
        """The segments the deployed cables occupy (detector frame); none by default."""
        return ()

    def cables_for(self, action: str, args: Any) -> tuple[Segment, ...]:
        """The segments the cables (or the vehicle's path) will occupy if `action` runs."""
        return ()

    def point(self) -> Point | None:
        """The vehicle's position, for systems that are a vehicle (ROV)."""
        return None
