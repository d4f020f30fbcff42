"""Run a real bridge in its own process for browser tests: `python -m tests.e2e.bridge_process CONFIG`.

Binds 127.0.0.1 port 0 itself and prints `listening PORT` once the socket is open, so tests never
guess a free port. The database is migrated first, as `serve` does.
"""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import uvicorn

from bridge import migrations
from bridge.app import create_app
from bridge.bootstrap import ensure_secrets
from bridge.config import load_config
from bridge.runtime import build_runtime


def main(config_path: str) -> None:
    runtime = build_runtime(ensure_secrets(load_config(Path(config_path))))
    migrations.upgrade(runtime.store)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    print(f"listening {sock.getsockname()[1]}", flush=True)
    server = uvicorn.Server(uvicorn.Config(create_app(runtime), log_level="warning", lifespan="on"))
    server.run(sockets=[sock])


if __name__ == "__main__":
    main(sys.argv[1])
