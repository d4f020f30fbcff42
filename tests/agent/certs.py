"""A throwaway CA with a server certificate for 127.0.0.1 and a client certificate, by openssl."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.peers import require_binary

EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]


@dataclass(frozen=True)
class Pki:
    """The files of one test CA: its certificate, and server and client pairs it signed."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    other_ca: Path


def _run(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True, timeout=30)


def _ca(openssl: str, directory: Path, name: str) -> tuple[Path, Path]:
    cert, key = directory / f"{name}.pem", directory / f"{name}.key"
    _run(
        openssl, "req", "-x509", *EC, "-days", "2", "-subj", f"/CN={name}",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        "-keyout", str(key), "-out", str(cert),
    )  # fmt: skip
    return cert, key


def _signed(
    openssl: str, directory: Path, name: str, ca: tuple[Path, Path], extensions: str
) -> tuple[Path, Path]:
    cert, key, csr = (directory / f"{name}{suffix}" for suffix in (".pem", ".key", ".csr"))
    ext = directory / f"{name}.ext"
    ext.write_text(extensions)
    _run(openssl, "req", *EC, "-subj", f"/CN={name}", "-keyout", str(key), "-out", str(csr))
    _run(
        openssl, "x509", "-req", "-in", str(csr), "-CA", str(ca[0]), "-CAkey", str(ca[1]),
        "-CAcreateserial", "-days", "2", "-extfile", str(ext), "-out", str(cert),
    )  # fmt: skip
    return cert, key


def make_pki(directory: Path) -> Pki:
    """Write a CA, a server pair for 127.0.0.1, a client pair, and an unrelated CA."""
    openssl = require_binary("openssl")
    directory.mkdir(parents=True, exist_ok=True)
    ca = _ca(openssl, directory, "tocsin-test-ca")
    server = _signed(
        openssl,
        directory,
        "server",
        ca,
        "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
    )
    client = _signed(openssl, directory, "client", ca, "extendedKeyUsage=clientAuth\n")
    other, _ = _ca(openssl, directory, "unrelated-ca")
    return Pki(ca[0], *server, *client, other)
