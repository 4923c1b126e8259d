"""A throw-away certificate authority for the tests, made with the `openssl` CLI (no Python
crypto package): a CA, and a server certificate for 127.0.0.1 and localhost signed by it."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

#: EC keys: generated in milliseconds (an RSA key takes far longer)
EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]


def openssl_exe() -> str:
    exe = shutil.which("openssl")
    if exe is None:
        raise FileNotFoundError("openssl is missing (make mosquitto installs it)")
    return exe


def _run(*args: str) -> None:
    subprocess.run([openssl_exe(), *args], check=True, capture_output=True, timeout=30)


@dataclass(frozen=True)
class TestCa:
    __test__ = False  # not a pytest test class

    ca_cert: Path
    ca_key: Path

    def server_cert(self, directory: Path, name: str = "server") -> tuple[Path, Path]:
        """(certificate, key) for a server at 127.0.0.1 / localhost, signed by this CA."""
        key, csr, cert = (directory / f"{name}.{ext}" for ext in ("key", "csr", "crt"))
        ext = directory / f"{name}.ext"
        ext.write_text(
            "subjectAltName = IP:127.0.0.1, DNS:localhost\n"
            "basicConstraints = critical, CA:FALSE\n"
            "keyUsage = critical, digitalSignature, keyEncipherment\n"
            "extendedKeyUsage = serverAuth\n"
        )
        _run("req", *EC_KEY, "-keyout", str(key), "-out", str(csr), "-subj", "/CN=localhost")
        _run(
            "x509", "-req", "-in", str(csr), "-CA", str(self.ca_cert), "-CAkey",
            str(self.ca_key), "-CAcreateserial", "-days", "2", "-out", str(cert),
            "-extfile", str(ext),
        )  # fmt: skip
        return cert, key


def make_ca(directory: Path, name: str = "ca") -> TestCa:
    """A self-signed CA valid for two days, in `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / f"{name}.crt", directory / f"{name}.key"
    _run(
        "req", "-x509", *EC_KEY, "-keyout", str(key), "-out", str(cert), "-days", "2",
        "-subj", f"/CN=calibd test {name}",
        "-addext", "basicConstraints = critical, CA:TRUE",
        "-addext", "keyUsage = critical, keyCertSign, cRLSign",
    )  # fmt: skip
    return TestCa(cert, key)
