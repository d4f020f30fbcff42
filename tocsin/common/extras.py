"""Which optional parts of the `tocsin` package are installed, and its version, from metadata."""

from __future__ import annotations

import importlib.util
import sys
from importlib import metadata

DISTRIBUTION = "tocsin"
# Modules of the `bridge` extra whose absence marks an agent-only install.
BRIDGE_MODULES = ("fastapi", "uvicorn", "sqlalchemy", "alembic", "pydantic", "jinja2")


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
    """Exit 1 with one line naming the `bridge` extra when its modules are not installed."""
    missing = missing_modules(BRIDGE_MODULES)
    if missing:
        print(
            f"{program}: the bridge is not installed here (missing: {', '.join(missing)}); "
            f"install it with: pip install '{DISTRIBUTION}[bridge]' (or the tocsin-bridge package)",
            file=sys.stderr,
        )
        raise SystemExit(1)
