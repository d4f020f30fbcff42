"""A throwaway PostgreSQL cluster for the test session, or the one named in TOCSIN_TEST_POSTGRES_URL."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.peers import missing_peer

ENV_URL = "TOCSIN_TEST_POSTGRES_URL"


def _bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_cluster_owner(argv: list[str]) -> list[str]:
    # initdb and postgres refuse to run as root: run them as the Debian 'postgres' user.
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *argv]
    return argv


@contextmanager
def postgres_cluster(durable: bool = False) -> Iterator[str]:
    """Yield a server URL (``postgresql+psycopg://user@host:port``) without a database name.

    Tests run with fsync off (a throwaway cluster need not survive a power cut); `durable`
    keeps PostgreSQL's defaults, fsync and synchronous_commit on, as benchmarks must.
    """
    if os.environ.get(ENV_URL):
        yield os.environ[ENV_URL].rstrip("/")
        return
    bin_dir = _bin_dir()
    if bin_dir is None:
        missing_peer("PostgreSQL server not installed (Debian package 'postgresql')")
        return
    base = Path(tempfile.mkdtemp(prefix="tocsin-pg-"))
    data = base / "data"
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
        base.chmod(0o755)
    port = _free_port()
    subprocess.run(
        _as_cluster_owner(
            [str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "tocsin"]
        ),
        check=True,
        capture_output=True,
    )
    options = (
        f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c max_connections=200"
        f" -c fsync={'on' if durable else 'off'}"
    )
    subprocess.run(
        _as_cluster_owner(
            [
                str(bin_dir / "pg_ctl"),
                "-D",
                str(data),
                "-o",
                options,
                "-l",
                str(base / "log"),
                "-w",
                "start",
            ]
        ),
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql+psycopg://tocsin@127.0.0.1:{port}"
    finally:
        subprocess.run(
            _as_cluster_owner(
                [str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]
            ),
            capture_output=True,
        )
        shutil.rmtree(base, ignore_errors=True)


def create_database(server_url: str) -> str:
    """Create an empty database on the cluster and return its SQLAlchemy URL."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    plain = server_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(f"{plain}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{server_url}/{name}"


def durability(server_url: str) -> list[str]:
    """Return the settings that decide what a commit survives, as name=value (for benchmarks)."""
    import psycopg

    plain = server_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(f"{plain}/postgres") as conn:
        return [
            f"{name}={conn.execute(f'SHOW {name}').fetchone()[0]}"  # type: ignore[index]
            for name in ("fsync", "synchronous_commit", "full_page_writes")
        ]
