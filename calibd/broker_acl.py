"""The broker's ACL as data: roles (topic rules) and users (user -> role), rendered into a
Mosquitto `acl_file` for one topic root (`calibd broker-acl`, docs/broker.md).

Mosquitto has no groups: every user gets its own block with its role's rules (and those of the
roles it includes); the `[everyone]` rules become `pattern` lines (`%u` = the user name).
Topics in the roles file are relative to the topic root; one starting with `/` is absolute.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from calibd.cfg_mqtt import USERNAME_PATTERN

HEADER = """\
# Mosquitto acl_file for the topic root {root}; deny unless allowed below.
# Rendered from {source} by
#   calibd broker-acl {source} --root {root}
# Do not edit by hand: edit the roles file and render again (docs/broker.md).
"""


class RolesError(Exception):
    """The roles file is unusable; the message says where."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_filter(topic: str) -> str:
    """A relative (or `/`-absolute) MQTT topic filter: `+` and `#` only as whole levels, `#`
    last; `%u`/`%c` only where a pattern may use them (checked by the caller)."""
    body = topic[1:] if topic.startswith("/") else topic
    if not body or any(c.isspace() for c in body):
        raise ValueError(f"{topic!r}: not a topic filter")
    levels = body.split("/")
    for i, level in enumerate(levels):
        if ("#" in level and (level != "#" or i != len(levels) - 1)) or (
            "+" in level and level != "+"
        ):
            raise ValueError(f"{topic!r}: '+' and '#' must be whole levels, '#' the last")
    return topic


class Rules(_Model):
    read: list[str] = Field(default_factory=list)
    write: list[str] = Field(default_factory=list)
    readwrite: list[str] = Field(default_factory=list)

    @field_validator("read", "write", "readwrite")
    @classmethod
    def _filters(cls, topics: list[str]) -> list[str]:
        return [_check_filter(t) for t in topics]


class Role(Rules):
    description: str = ""
    include: list[str] = Field(default_factory=list)

    @field_validator("read", "write", "readwrite")
    @classmethod
    def _no_substitution(cls, topics: list[str]) -> list[str]:
        bad = [t for t in topics if "%" in t]
        if bad:
            raise ValueError(f"{bad}: %u/%c only in [everyone] (pattern lines)")
        return topics


class RolesFile(_Model):
    everyone: Rules = Rules()
    roles: dict[str, Role]
    users: dict[str, str]

    @field_validator("users")
    @classmethod
    def _names(cls, users: dict[str, str]) -> dict[str, str]:
        import re

        bad = [u for u in users if not re.fullmatch(USERNAME_PATTERN, u)]
        if bad:
            raise ValueError(f"user names {bad}: letters, digits, . _ @ - only")
        return users

    @model_validator(mode="after")
    def _references(self) -> Self:
        for name, role in self.roles.items():
            unknown = [r for r in role.include if r not in self.roles]
            if unknown:
                raise ValueError(f"role {name!r} includes unknown roles {unknown}")
            self.closure(name)  # raises on a cycle
        unknown_roles = {u: r for u, r in self.users.items() if r not in self.roles}
        if unknown_roles:
            raise ValueError(f"users with unknown roles: {unknown_roles}")
        return self

    def closure(self, role: str, seen: tuple[str, ...] = ()) -> list[str]:
        """Every role `role` includes (depth first, each once), then `role`."""
        if role in seen:
            raise ValueError(f"roles include each other: {' -> '.join([*seen, role])}")
        out: list[str] = []
        for inc in self.roles[role].include:
            out += [r for r in self.closure(inc, (*seen, role)) if r not in out]
        return [*out, role]

    def access(self, role: str) -> list[tuple[str, str]]:
        """(access, relative filter) of `role` with its includes, in order, merged."""
        read: list[str] = []
        write: list[str] = []
        for name in self.closure(role):
            r = self.roles[name]
            read += [t for t in [*r.read, *r.readwrite] if t not in read]
            write += [t for t in [*r.write, *r.readwrite] if t not in write]
        return _merge(read, write)


def _merge(read: list[str], write: list[str]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for t in [*read, *(w for w in write if w not in read)]:
        access = "readwrite" if t in read and t in write else "read" if t in read else "write"
        out.append((access, t))
    return out


def absolute(root: str, topic: str) -> str:
    """A roles-file topic under `root` (`/x` stays absolute, without the slash)."""
    return topic[1:] if topic.startswith("/") else f"{root.rstrip('/')}/{topic}"


def load_roles(path: Path) -> RolesFile:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RolesError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise RolesError(f"{path}: not valid TOML: {exc}") from None
    try:
        return RolesFile.model_validate(data)
    except ValidationError as exc:
        lines = [f"{'.'.join(map(str, e['loc'])) or '(top)'}: {e['msg']}" for e in exc.errors()]
        raise RolesError(f"{path}: " + "; ".join(lines)) from None


def render(roles: RolesFile, root: str, source: str = "roles.toml") -> str:
    """The Mosquitto acl_file text for topic root `root`."""
    root = root.rstrip("/")
    if not root or any(c in root for c in "#+") or any(c.isspace() for c in root):
        raise RolesError(f"topic root {root!r}: not a plain topic")
    out = [HEADER.format(root=root, source=source)]
    patterns = _merge(
        [*roles.everyone.read, *roles.everyone.readwrite],
        [*roles.everyone.write, *roles.everyone.readwrite],
    )
    if patterns:
        out.append("# every user (%u: the user's name)")
        out += [f"pattern {access} {absolute(root, t)}" for access, t in patterns]
        out.append("")
    for user, role in roles.users.items():
        description = roles.roles[role].description
        out.append(f"# {user}, role {role}" + (f": {description}" if description else ""))
        out.append(f"user {user}")
        out += [f"topic {access} {absolute(root, t)}" for access, t in roles.access(role)]
        out.append("")
    return "\n".join(out)
