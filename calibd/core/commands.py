"""Commands in, replies out: parsing and validation before anything moves."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from calibd.core.errors import CommandError, ErrorCode
from calibd.core.timefmt import iso_now, parse_iso

Result = Literal["accepted", "rejected", "completed", "failed", "aborted"]
ID_MAX_LEN = 64


@dataclass(frozen=True)
class ReplyRoute:
    """Where replies to one command go: the v5 Response Topic, else the system's reply topic."""

    response_topic: str | None = None
    correlation_data: bytes | None = None


@dataclass(frozen=True)
class Inbound:
    """One command message as the MQTT edge received it (no aiomqtt types past the edge)."""

    system: str | None  # None: the global {root}/cmd
    payload: bytes
    retained: bool = False
    expiry_s: float | None = None  # v5 Message Expiry Interval left when received
    #: time.monotonic() when it entered the daemon (the MQTT client's incoming queue): the v5
    #: expiry runs from there, so time spent queued in the daemon counts
    received_at: float = field(default_factory=time.monotonic)
    route: ReplyRoute = ReplyRoute()
    expert: bool = False
    #: why the command's Response Topic was refused (then route is the default one)
    route_error: str | None = None


@dataclass(frozen=True)
class Command:
    id: str
    system: str | None
    action: str
    args: dict[str, Any]
    operator: str | None
    route: ReplyRoute
    expert: bool = False
    #: the program run that sent it (the sequencer's own commands), for the audit and the log
    program: str | None = None


class Args(BaseModel):
    """Base of per-action argument models: strict types, no unknown keys, no NaN."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


class NoArgs(Args):
    pass


ArgsT = TypeVar("ArgsT", bound=Args)


def valid_id(value: object) -> str | None:
    if isinstance(value, str) and 1 <= len(value) <= ID_MAX_LEN and value.isprintable():
        return value
    return None


def peek_id(payload: bytes) -> str | None:
    """The command id if the payload is a JSON object with a usable id, else None."""
    try:
        doc = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return None
    return valid_id(doc.get("id")) if isinstance(doc, dict) else None


def parse(inbound: Inbound, *, now: float | None = None) -> Command:
    """Turn a raw message into a Command or raise CommandError (id in `.cmd_id` when known)."""
    try:
        doc = json.loads(inbound.payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise CommandError(ErrorCode.BAD_JSON, f"payload is not JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise CommandError(ErrorCode.BAD_REQUEST, "payload must be a JSON object")
    cmd_id = valid_id(doc.get("id"))
    if cmd_id is None:
        raise CommandError(ErrorCode.BAD_REQUEST, "missing or unusable id (1-64 printable chars)")
    if inbound.retained:
        raise CommandError(ErrorCode.RETAINED, "retained commands are never executed")
    _check_expiry(inbound, doc, time.monotonic() if now is None else now)
    action = doc.get("action")
    if not isinstance(action, str) or not action:
        raise CommandError(ErrorCode.BAD_REQUEST, "missing action")
    args = doc.get("args", {})
    if args is None:
        args = {}
    if not isinstance(args, dict):
        raise CommandError(ErrorCode.BAD_REQUEST, "args must be a JSON object")
    operator = doc.get("operator")
    if operator is not None and not (isinstance(operator, str) and operator.isprintable()):
        raise CommandError(ErrorCode.BAD_REQUEST, "operator must be a printable string")
    return Command(
        id=cmd_id,
        system=inbound.system,
        action=action,
        args=args,
        operator=operator,
        route=inbound.route,
        expert=inbound.expert,
    )


def _check_expiry(inbound: Inbound, doc: dict[str, Any], now: float) -> None:
    if inbound.expiry_s is not None and now - inbound.received_at >= inbound.expiry_s:
        raise CommandError(ErrorCode.EXPIRED, "MQTT message expiry passed before execution")
    expires = doc.get("expires_at")
    if expires is None:
        return
    if not isinstance(expires, str):
        raise CommandError(ErrorCode.BAD_REQUEST, "expires_at must be an ISO 8601 string")
    try:
        deadline = parse_iso(expires)
    except ValueError as exc:
        raise CommandError(ErrorCode.BAD_REQUEST, f"expires_at: {exc}") from exc
    if datetime.now(UTC) >= deadline:
        raise CommandError(ErrorCode.EXPIRED, f"command expired at {expires}")


def validate_args(model: type[ArgsT], args: dict[str, Any]) -> ArgsT:
    """Validate action arguments; wrong types are bad_request."""
    try:
        return model.model_validate(args)
    except ValidationError as exc:
        msgs = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'args'}: {e['msg']}" for e in exc.errors()
        )
        raise CommandError(ErrorCode.BAD_REQUEST, msgs) from exc


def reply(
    cmd_id: str | None,
    system: str | None,
    action: str | None,
    result: Result,
    *,
    error: CommandError | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A reply payload as the contract defines it."""
    doc: dict[str, Any] = {
        "id": cmd_id,
        "system": system,
        "action": action,
        "result": result,
        "final": result != "accepted",
        "error": error.as_dict() if error else None,
        "ts": iso_now(),
    }
    doc.update(extra)
    return doc
