"""What a subsystem tells the operators: events, its `warning` interlocks, telemetry, the
retained status document (and when one is due), and the `transition` event of every state it
enters. `Subsystem` derives from `StatusPublisher`; it assigns the attributes declared here."""

from __future__ import annotations

import time
from typing import Any

from calibd.core.actions import Fault
from calibd.core.commands import Command
from calibd.core.outbox import Outbox, Outgoing
from calibd.core.timefmt import iso_now

#: an idle system publishes its status at least this often (docs/mqtt-api.md, Status)
STATUS_PERIOD_S = 1.0


class StatusPublisher:
    """Events, warnings, telemetry and the status of one subsystem, through its outbox."""

    name: str
    outbox: Outbox
    log: Any
    #: set by transitions.Machine on the model
    state: str
    since: str
    seq: int
    _last_status_s: float
    latched: Fault | None
    command: Command | None
    #: active non-latching interlocks of this system (e.g. warnings), id -> entry
    warnings: dict[str, dict[str, Any]]

    def event(self, kind: str, **fields: Any) -> None:
        doc = {"event": kind, "system": self.name, "ts": iso_now(), **fields}
        self.outbox.put(Outgoing("event", self.name, doc))

    def warn(self, ident: str, active: bool, message: str = "") -> None:
        """Raise or clear a `warning` interlock: reported in status and events, stops nothing."""
        if active and ident not in self.warnings:
            entry = {
                "id": ident,
                "system": self.name,
                "severity": "warning",
                "message": message,
                "since": iso_now(),
                "latched": False,
            }
            self.warnings[ident] = entry
            self.event("interlock", state="raised", **entry)
            self.publish_status()
        elif active:
            self.warnings[ident]["message"] = message
        elif ident in self.warnings:
            entry = self.warnings.pop(ident)
            self.event("interlock", state="cleared", **entry)
            self.publish_status()

    def telemetry(self, payload: dict[str, Any]) -> None:
        self.outbox.put(
            Outgoing("telemetry", self.name, {"system": self.name, "ts": iso_now(), **payload})
        )

    def status_fields(self) -> dict[str, Any]:
        """Subsystem part of the status: busy/homed/deployed/source/position/target."""
        return {}

    def publish_status(self) -> None:
        self.seq += 1
        self._last_status_s = time.monotonic()
        doc: dict[str, Any] = {
            "system": self.name,
            "state": self.state,
            "since": self.since,
            "seq": self.seq,
            "ts": iso_now(),
            "busy": self.command is not None,
            "interlocks": list(self.warnings.values()),
            "fault": (
                {"code": self.latched.code, "message": self.latched.message}
                if self.latched
                else None
            ),
            "command": (
                {"id": self.command.id, "action": self.command.action} if self.command else None
            ),
        }
        doc.update(self.status_fields())
        self.outbox.status(self.name, doc)

    def status_due(self) -> bool:
        """An idle system's status goes out at least every `STATUS_PERIOD_S`."""
        return time.monotonic() - self._last_status_s >= STATUS_PERIOD_S

    # called by calibd.core.fsm before the new state's on_enter action
    async def on_state_entered(self, event: Any) -> None:
        self.since = iso_now()
        self.event(
            "transition",
            src=event.transition.source,
            dst=event.transition.dest,
            trigger=event.event.name,
            command=self.command.id if self.command else None,
        )
        self.log.info("transition", src=event.transition.source, dst=event.transition.dest)
        self.publish_status()
