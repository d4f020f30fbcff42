"""A real OpenID Connect provider for the tests: oidc-provider-mock, run as its own process.

It serves discovery, JWKS, authorize (a form with one button per predefined user) and token
endpoints, and signs RS256 ID tokens with the claims given here. It accepts the PKCE parameters
the bridge sends but does not check them; tests assert the bridge sends them.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path

import requests

from tests.peers import missing_peer

START_TIMEOUT = 60.0  # seconds for the provider to answer discovery; a loaded CI box is slow


@dataclass(frozen=True)
class Provider:
    """A running provider: its issuer URL and the log it writes."""

    issuer: str
    log: Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def oidc_provider(tmp_path: Path, *users: dict[str, object]) -> Iterator[Provider]:
    """Run the provider on 127.0.0.1 with predefined users (claims with a "sub"); stop it after."""
    if find_spec("oidc_provider_mock") is None:
        missing_peer("oidc-provider-mock not installed (the dev extra has it)")
    port = _free_port()
    log = tmp_path / "oidc-provider.log"
    argv = [sys.executable, "-m", "oidc_provider_mock", "--host", "127.0.0.1", "--port", str(port)]
    for user in users:
        argv += ["--user-claims", json.dumps(user)]
    issuer = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + START_TIMEOUT
            while True:
                try:
                    found = requests.get(f"{issuer}/.well-known/openid-configuration", timeout=2)
                    if found.ok:
                        break
                except requests.ConnectionError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"the OIDC provider did not start: {log.read_text()}")
                time.sleep(0.1)
            yield Provider(issuer, log)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
