"""Restart recovery of a deployment system: every drive command journaled (write-ahead), the
state/position snapshot persisted at every transition, the reconciliation with the drives at
the first poll (policy: `calibd/core/recovery.py`), and the ways out of the resulting
`position_mismatch` fault: the slow `retract` onto the home switches, or an expert `override`."""

from __future__ import annotations

from typing import Any

from calibd.core.actions import Fault, Handler
from calibd.core.commands import Command
from calibd.core.deployment_actions import RESET_DESTINATIONS, OverrideArgs
from calibd.core.deployment_base import DeploymentBase
from calibd.core.errors import CommandError, ErrorCode
from calibd.core.journal import AxisNow, JournaledDrive, SystemJournal
from calibd.core.recovery import reconcile
from calibd.core.timefmt import iso_now

#: the restart-recovery fault: only a slow retract (homing) or an expert override leaves it
MISMATCH = "position_mismatch"


class RestartRecovery(DeploymentBase):
    """The journal of a deployment system and its recovery after a restart."""

    def attach_journal(self, journal: SystemJournal, tolerance_counts: float) -> None:
        """Journal every drive command of this system (write-ahead) and recover from
        `journal.persisted` at the first poll."""
        self.journal = journal
        self.recovery_tolerance_counts = tolerance_counts
        for name, axis in self.hw.drive_axes().items():
            axis.drive = JournaledDrive(axis.drive, name, journal)

    def axes_now(self) -> dict[str, AxisNow]:
        return {n: AxisNow.of(a.status, a.counts_per_rev) for n, a in self.hw.drive_axes().items()}

    def persist(self) -> None:
        """Snapshot the state, position and drive ranges into the journal."""
        if self.journal is None:
            return
        fields = self.status_fields()
        doc = {
            "state": self.state,
            "homed": self.hw.homed,
            "deployed": fields.get("deployed"),
            "position": fields.get("position"),
            "target": self.target,
            "source": fields.get("source"),
        }
        self.journal.record(doc, self.axes_now())

    async def on_state_entered(self, event: Any) -> None:
        await super().on_state_entered(event)
        self.persist()

    def _recover(self) -> None:
        """Reconcile the persisted snapshot with the drives (see `calibd/core/recovery.py`)."""
        self._recovered = True
        journal = self.journal
        if journal is None:
            return
        persisted, journal.persisted = journal.persisted, None
        outcome = reconcile(
            persisted,
            self.axes_now(),
            self.recovery_tolerance_counts,
            deployed=bool(self.status_fields().get("deployed")),
            first_start=journal.first_start,
        )
        self.log.warning(
            "recovery", outcome=outcome.kind, state=outcome.state, message=outcome.message
        )
        self.event(
            "recovery",
            outcome=outcome.kind,
            state=outcome.state,
            message=outcome.message,
            **outcome.details,
        )
        if outcome.kind == "restore" and persisted is not None:
            self.hw.homed = True
            self.target = persisted.get("target")
            if self.state != "FAULT":
                self._force_state(outcome.state)
        elif outcome.kind == "mismatch":
            self.hw.homed = False
            self.latched = Fault(
                MISMATCH, outcome.message, ErrorCode.INTERLOCK, allows=frozenset({"retract"})
            )
            self.event("fault", code=MISMATCH, message=outcome.message, axis="")
            self._force_state("FAULT")
        self.persist()
        self.publish_status()

    def _force_state(self, state: str) -> None:
        """Take `state` without its callbacks (restart recovery: nothing is to be done)."""
        src = self.state
        if src == state:
            return
        self.machine.set_state(state, model=self)
        self.since = iso_now()
        self.event("transition", src=src, dst=state, trigger="recover", command=None)

    def handler(self, action: str) -> Handler:
        if action == "retract" and self.state == "FAULT":
            return self.act_recover
        return super().handler(action)

    async def act_recover(self, cmd: Command, args: Any) -> None:
        """`retract` out of a position mismatch: home slowly onto the switches, under the
        tension watch of a system whose position is unknown."""
        self.latched = None
        self._tripping = False
        self.target = None
        await self.run_trigger("recover", {"PARKED"})

    async def act_override(self, cmd: Command, args: OverrideArgs) -> None:
        if args.accept == "drive":
            self.hw.homed = True
        else:
            self.hw.homed = False
        self.latched = None
        self._tripping = False
        self.event("override", accept=args.accept, operator=cmd.operator, command=cmd.id)
        await self.run_trigger("reset", RESET_DESTINATIONS)

    def check_common(self, action: str, args: Any) -> None:
        if action == "override":
            if self.latched is None or self.latched.code != MISMATCH:
                raise CommandError(
                    ErrorCode.INVALID_STATE, f"override applies only to a {MISMATCH} fault"
                )
            if args.accept == "drive" and self.hw.reference_lost():
                raise CommandError(
                    ErrorCode.INVALID_STATE,
                    "a drive has lost its reference (not homed): its reading cannot be"
                    " accepted; accept 'unknown' or retract",
                )
        super().check_common(action, args)
