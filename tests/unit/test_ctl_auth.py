"""calibctl's broker account and TLS: options, CALIBCTL_* variables, [mqtt.tls] of --config
(never the daemon's account), clear usage errors, the per-user inbox."""

from __future__ import annotations

from pathlib import Path

import pytest

from calibd.ctl.cli import credentials, daemon_mqtt, endpoint
from calibd.ctl.errors import USAGE, CtlError
from calibd.ctl.link import CtlLink
from calibd.ctl.parser import parse
from tests.tls_ca import make_ca

ROOT = Path(__file__).resolve().parents[2]
SIM = ROOT / "config" / "sim.toml"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CALIBCTL_USERNAME", "CALIBCTL_PASSWORD", "CALIBCTL_PASSWORD_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("CALIBCTL_TLS_CA", raising=False)
    monkeypatch.delenv("CALIBD_CONFIG", raising=False)
    monkeypatch.setenv("USER", "alice")


def secret(tmp_path: Path, text: str = "pw1\n") -> Path:
    path = tmp_path / "pw"
    path.write_text(text)
    return path


def test_no_account_is_anonymous_plain() -> None:
    auth = credentials(parse(["status"]))
    assert (auth.username, auth.password, auth.tls) == (None, None, None)


def test_options(tmp_path: Path) -> None:
    ca = make_ca(tmp_path / "ca")
    pw = str(secret(tmp_path))
    ns = parse(["status", "--username", "bob", "--password-file", pw, "--tls-ca", str(ca.ca_cert)])
    auth = credentials(ns)
    assert (auth.username, auth.password) == ("bob", "pw1")
    assert auth.tls is not None and auth.tls.check_hostname


def test_environment_and_user_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALIBCTL_PASSWORD_FILE", str(secret(tmp_path)))
    auth = credentials(parse(["status"]))
    assert (auth.username, auth.password, auth.tls) == ("alice", "pw1", None)
    monkeypatch.delenv("CALIBCTL_PASSWORD_FILE")
    monkeypatch.setenv("CALIBCTL_PASSWORD", "pw2")
    monkeypatch.setenv("CALIBCTL_USERNAME", "carol")
    auth = credentials(parse(["status", "--tls"]))
    assert (auth.username, auth.password) == ("carol", "pw2") and auth.tls is not None


def test_tls_from_the_daemon_config_but_never_its_account(tmp_path: Path) -> None:
    ca = make_ca(tmp_path / "ca")
    daemon_pw = secret(tmp_path, "daemon-secret\n")
    mqtt = '[mqtt]\nhost = "127.0.0.1"\n'
    text = SIM.read_text().replace(
        mqtt, f'{mqtt}username = "calibd"\npassword_file = "{daemon_pw}"\n'
    )
    path = tmp_path / "calibd.toml"
    path.write_text(text + f'\n[mqtt.tls]\nca_file = "{ca.ca_cert}"\n')
    ns = parse(["--config", str(path), "status"])
    cfg = daemon_mqtt(ns)
    assert endpoint(ns, cfg) == ("127.0.0.1", 1883, "juno/calib")
    auth = credentials(ns, cfg)
    assert auth.tls is not None
    assert (auth.username, auth.password) == (None, None)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tls-cert", "/c.pem"], "go together"),
        (["--password-file", "/nonexistent/pw"], "cannot read /nonexistent/pw"),
        (["--username", "a/b"], "letters, digits"),
        (["--tls-ca", "/nonexistent/ca.crt"], "CA file /nonexistent/ca.crt"),
    ],
)
def test_usage_errors(args: list[str], message: str) -> None:
    with pytest.raises(CtlError, match=message) as err:
        credentials(parse(["status", *args]))
    assert err.value.exit_code == USAGE


async def test_inbox_is_under_the_users_client_topic() -> None:
    from calibd.ctl.link import Auth

    link = CtlLink("127.0.0.1", 1, "juno/calib/", auth=Auth("bob", "x"))
    assert link.inbox.startswith("juno/calib/client/bob/")
    assert CtlLink("127.0.0.1", 1, "r").inbox.startswith("r/client/anonymous/")
