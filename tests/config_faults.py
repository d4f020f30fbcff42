"""What both programs owe a person whose config is broken: exit 78 and one line naming the fault."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Broken:
    """A broken file: its content, and the line and key the one error line must name."""

    name: str
    content: str | bytes
    line: int | None
    key: str | None
    at_fault: str = "config"  # or the name of a neighbouring file the config points to


def write(path: Path, content: str | bytes) -> Path:
    """Write text as UTF-8, or bytes as they are, and return the path."""
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def assert_one_clear_line(
    result: subprocess.CompletedProcess[str], at_fault: Path | str, case: Broken
) -> None:
    """Exit 78, no traceback, one line on stderr naming the file, its line and the key."""
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 78, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr[:2000]
    assert len(lines[0]) < 600, lines[0][:2000]  # a value is quoted short, never in full
    assert str(at_fault) in lines[0], lines[0]
    if case.line is not None:
        assert f"{at_fault}:{case.line}" in lines[0], lines[0]
    if case.key is not None:
        assert case.key in lines[0], lines[0]
