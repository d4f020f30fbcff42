"""Which optional parts of the `tocsin` package are installed, and its version, from metadata."""

from __future__ import annotations

import importlib.util
import platform
import sys
from importlib import metadata

DISTRIBUTION = "tocsin"
# Modules of the `bridge` extra whose absence marks an agent-only install.
BRIDGE_MODULES = ("fastapi", "uvicorn", "sqlalchemy", "alembic", "pydantic", "jinja2")
# The agent runs on Python 3.9 and newer; the bridge's own code needs this one.
BRIDGE_PYTHON = (3, 11)


def package_version() -> str:
    """Return the installed version of tocsin, or 'unknown' when run from a bare checkout."""
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "unknown"


def missing_modules(modules: tuple[str, ...]) -> list[str]:
    """Return the modules that cannot be imported, without importing any."""
    return [name for name in modules if importlib.util.find_spec(name) is None]


def require_bridge(program: str) -> None:
    """Exit 1 with one line naming what the bridge lacks here: a newer Python, or its extra."""
    if sys.version_info < BRIDGE_PYTHON:
        needed = ".".join(map(str, BRIDGE_PYTHON))
        print(
            f"{program}: the bridge needs Python {needed} or newer, this is Python "
            f"{platform.python_version()} (the agent, tocsin-agent, runs on Python 3.9 and newer)",
            file=sys.stderr,
        )
        raise SystemExit(1)
    missing = missing_modules(BRIDGE_MODULES)
    if missing:
        print(
            f"{program}: the bridge is not installed here (missing: {', '.join(missing)}); "
            f"install it with: pip install '{DISTRIBUTION}[bridge]' (or the tocsin-bridge package)",
            file=sys.stderr,
        )
        raise SystemExit(1)
