"""A real tocsin-bridge server process on 127.0.0.1 for API tests, with kill -9 and restart."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests
import yaml

from tests.bridge.helpers import INGEST, OPERATOR


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class BridgeProcess:
    """`tocsin-bridge serve` in a subprocess, configured with the test tokens."""

    def __init__(
        self, tmp_path: Path, database_url: str, open_files: int | None = None, **config: object
    ) -> None:
        self.open_files = open_files  # the server's RLIMIT_NOFILE (soft and hard), if given
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config_path = tmp_path / "bridge.yml"
        self.log_path = tmp_path / "bridge.log"
        body = {
            "listen": f"127.0.0.1:{self.port}",
            "database_url": database_url,
            "data_dir": str(tmp_path),
            "tokens": [
                {"name": "sender", "role": "ingest", "value": INGEST},
                {"name": "alice", "role": "operator", "value": OPERATOR},
            ],
            "log_level": "warning",
            **config,
        }
        self.config_path.write_text(yaml.safe_dump(body))
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 20.0) -> None:
        """Start the server and wait until /readyz answers 200."""
        code = "from tocsin.bridge.cli import main; main()"
        if self.open_files is not None:
            limit = (self.open_files, self.open_files)
            code = f"import resource; resource.setrlimit(resource.RLIMIT_NOFILE, {limit}); {code}"
        command = [sys.executable, "-c", code, "serve"]
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [*command, "--config", str(self.config_path)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"bridge exited {self.proc.returncode}: {self.log_path.read_text()[-2000:]}"
                )
            try:
                if requests.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"bridge not ready in {timeout}s: {self.log_path.read_text()[-2000:]}")

    def kill(self) -> None:
        """Kill the server with SIGKILL, as a crash or the OOM killer would."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        """Stop the server gracefully (SIGTERM), killing it if it hangs."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill()


@contextmanager
def running_bridge(
    database_url: str, tmp: Path, timeout: float = 60.0, **config: object
) -> Iterator[BridgeProcess]:
    """Run a bridge on the database until the block ends (the benches' long-lived servers)."""
    process = BridgeProcess(tmp, database_url, **config)
    process.start(timeout=timeout)
    try:
        yield process
    finally:
        process.stop()
