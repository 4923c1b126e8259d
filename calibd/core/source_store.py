"""The source store's maintenance actions (on `{root}/house/expert/cmd`): register a new
source, check one out of stock and return it, deactivate and reactivate it. Each is validated
and applied by the inventory (`calibd/store/inventory.py`) when the command is accepted."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from calibd.core.actions import ActionSpec
from calibd.core.commands import Args, Command
from calibd.core.errors import CommandError, ErrorCode

SOURCE_STORE_ACTIONS = ("register", "checkout", "return", "deactivate", "reactivate")


class SourceArgs(Args):
    source: str


class RegisterArgs(Args):
    source: str
    kind: str
    activity_bq: float | None = Field(None, ge=0)
    radioactive: bool = True


def store_actions(states: frozenset[str]) -> dict[str, ActionSpec]:
    """The ActionSpecs (expert-only, instantaneous) for the house's ACTIONS table."""
    return {
        a: ActionSpec(
            RegisterArgs if a == "register" else SourceArgs, states, motion=False, expert=True
        )
        for a in SOURCE_STORE_ACTIONS
    }


def apply_store_action(inventory: Any, cmd: Command, args: Any) -> None:
    """Apply one source-store action to the inventory (raises CommandError to reject)."""
    if inventory is None:
        raise CommandError(ErrorCode.INTERNAL, "no source inventory")
    extra: dict[str, Any] = {}
    if isinstance(args, RegisterArgs):
        extra = {
            "kind": args.kind,
            "activity_bq": args.activity_bq,
            "radioactive": args.radioactive,
        }
    inventory.apply(
        cmd.action, source=args.source, operator=cmd.operator, command_id=cmd.id, **extra
    )
