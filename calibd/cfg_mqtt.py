"""The broker account and TLS pieces of `[mqtt]` (docs/broker.md), and reading them at start.

No aiomqtt here: the daemon's edge (calibd/mqtt.py) and calibctl's link both build their client
from these. Secrets never live in the TOML: `password_file` is read once, when the process
starts (`read_secret`), and the TLS files are checked then too (`client_tls_context`).
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Self

from pydantic import Field, SecretStr, model_validator

from calibd.cfgbase import Strict

#: a broker user name the ACL can name (`user NAME`, `%u` in patterns): no spaces, no wildcards
USERNAME_PATTERN = r"^[A-Za-z0-9._@-]{1,64}$"


class SecretFileError(Exception):
    """A password or TLS file cannot be used; the message names the file and why."""


class MqttTlsCfg(Strict):
    """`[mqtt.tls]`: its presence turns TLS on. The broker's certificate is always verified,
    and must name `[mqtt] host` (a DNS name or an IP address in its subjectAltName)."""

    ca_file: Path | None = Field(
        None, description="PEM CA bundle that signed the broker's certificate; none: system CAs"
    )
    cert_file: Path | None = Field(None, description="PEM client certificate (optional)")
    key_file: Path | None = Field(None, description="PEM private key of cert_file")

    @model_validator(mode="after")
    def _pair(self) -> Self:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together")
        return self


class MqttAccountCfg(Strict):
    """`[mqtt.sim]`: the simulator rack's own broker account (calibsim reads it, the daemon
    ignores it); host, port, topic root and TLS are those of `[mqtt]`."""

    username: str = Field(pattern=USERNAME_PATTERN)
    password: SecretStr | None = None
    password_file: Path | None = None

    @model_validator(mode="after")
    def _one_password(self) -> Self:
        if self.password is not None and self.password_file is not None:
            raise ValueError("set password or password_file, not both")
        return self


def read_secret(path: Path) -> SecretStr:
    """The first line of `path` (a password file: one line, no other content)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise SecretFileError(f"cannot read {path}: {reason}") from None
    lines = text.splitlines()
    secret = lines[0] if lines else ""
    if not secret:
        raise SecretFileError(f"{path} is empty (put the password on its first line)")
    return SecretStr(secret)


def client_tls_context(
    ca_file: Path | None, cert_file: Path | None = None, key_file: Path | None = None
) -> ssl.SSLContext:
    """A client context: TLS 1.2 or newer, the broker's certificate and host name verified
    against `ca_file` (or the system CAs), optionally presenting a client certificate."""
    try:
        ctx = ssl.create_default_context(cafile=str(ca_file) if ca_file is not None else None)
    except (OSError, ssl.SSLError) as exc:
        raise SecretFileError(f"CA file {ca_file}: {_why(exc)}") from None
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if cert_file is not None:
        try:
            ctx.load_cert_chain(str(cert_file), str(key_file) if key_file is not None else None)
        except (OSError, ssl.SSLError) as exc:
            raise SecretFileError(f"client certificate {cert_file}: {_why(exc)}") from None
    return ctx


def tls_context_of(tls: MqttTlsCfg) -> ssl.SSLContext:
    return client_tls_context(tls.ca_file, tls.cert_file, tls.key_file)


def _why(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLError):
        return exc.reason or str(exc)
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc)
