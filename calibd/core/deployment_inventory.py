"""The source inventory on a deployment system: the slots a source is mounted on (the system
itself, or one of its units), the expert `mount` / `unmount` actions, accepted only while that
slot is parked with nothing running, and applied to the inventory as they are accepted."""

from __future__ import annotations

from typing import Any

from calibd.core.commands import Command
from calibd.core.deployment_actions import MountArgs, UnmountArgs
from calibd.core.deployment_base import DeploymentBase
from calibd.core.errors import CommandError, ErrorCode


class SourceSlots(DeploymentBase):
    """`mount` / `unmount` on a deployment system (or one of its units)."""

    def units(self) -> tuple[str, ...]:
        """The units that carry a source (empty: the system itself carries one)."""
        return ()

    def slot_parked(self, unit: str | None) -> bool:
        """Whether the slot (the system, or one of its units) is parked with nothing running."""
        return (
            self.command is None
            and self.state not in self.MOTION_STATES
            and not self.status_fields().get("deployed")
        )

    def check_common(self, action: str, args: Any) -> None:
        if action in {"mount", "unmount"}:
            units = self.units()
            if units and args.unit not in units:
                raise CommandError(
                    ErrorCode.OUT_OF_RANGE, f"unit {args.unit!r} is not one of {', '.join(units)}"
                )
            if not units and args.unit is not None:
                raise CommandError(ErrorCode.BAD_REQUEST, f"{self.name} has no units")
            if not self.slot_parked(args.unit):
                where = self.name if args.unit is None else f"{self.name} unit {args.unit}"
                raise CommandError(
                    ErrorCode.INVALID_STATE,
                    f"{action} only while {where} is parked with no command running"
                    f" (now {self.state})",
                )
            if self.inventory is None:
                raise CommandError(ErrorCode.INTERNAL, "no source inventory")
        super().check_common(action, args)

    def apply_maintenance(self, cmd: Command, args: Any) -> None:
        if cmd.action in {"mount", "unmount"}:
            apply = getattr(self.inventory, "apply")  # noqa: B009 - SourceLookup is read-only
            apply(
                cmd.action,
                source=getattr(args, "source", None),
                system=self.name,
                unit=args.unit,
                operator=cmd.operator,
                command_id=cmd.id,
            )

    async def act_mount(self, cmd: Command, args: MountArgs) -> None:
        self.publish_status()

    async def act_unmount(self, cmd: Command, args: UnmountArgs) -> None:
        self.publish_status()
