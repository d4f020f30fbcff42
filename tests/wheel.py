"""Build the project's wheel from a copy of this checkout, offline, for tests that install it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(*argv: str | Path, cwd: Path) -> str:
    """Run a command offline and return its output; fail with its stderr when it fails."""
    result = subprocess.run(
        [str(arg) for arg in argv],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INDEX": "1"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def build_wheel(work: Path) -> Path:
    """Build the wheel into `work`/dist from a copy of the source and return its path."""
    source = work / "source"  # building writes build/ and *.egg-info: never into the checkout
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for name in ("tocsin", "rules"):
        shutil.copytree(ROOT / name, source / name, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    pip = (sys.executable, "-m", "pip")
    run(*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", work / "dist", source, cwd=work)
    (wheel,) = (work / "dist").glob("tocsin-*.whl")
    return wheel
