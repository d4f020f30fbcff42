"""What both programs owe a person whose config is broken: exit 78 and one line naming the fault."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

SECRET = "hunter2-s3cr3t"  # a credential no message may ever quote
LONG = "x" * 100_000  # a value no message may quote whole
# Anchors a to h, each nine aliases of the one before: *h expands to 9**8 strings.
ANCHORS = ", ".join(
    ["&a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    + [
        f"&{name} [" + ", ".join([f"*{previous}"] * 9) + "]"
        for name, previous in zip("bcdefgh", "abcdefg", strict=True)
    ]
)
BOMB = f"[{ANCHORS}, *h]"  # a YAML list that is a "billion laughs" if expanded
# Ways a config path can fail to be a readable file (see not_a_readable_file).
UNREADABLE = ["missing", "directory", "under-a-file", "unreadable"]


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


def run_cli(
    main: str, *args: str, cwd: Path, env: Mapping[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run a program's command line (`main` names its module) as an operator would, in `cwd`."""
    command = [sys.executable, "-c", f"from {main} import main; main()", *args]
    return subprocess.run(
        command, capture_output=True, text=True, timeout=timeout, cwd=cwd, env=dict(env)
    )


def not_a_readable_file(tmp_path: Path, kind: str, name: str, content: str) -> Path:
    """Return a config path of one UNREADABLE kind; skip 'unreadable' as root, who reads all."""
    if kind == "unreadable" and os.geteuid() == 0:
        pytest.skip("root reads files whatever their mode")
    path = {
        "missing": tmp_path / "absent.yml",
        "directory": tmp_path,
        "under-a-file": write(tmp_path / "file", "x") / name,
        "unreadable": write(tmp_path / name, content),
    }[kind]
    if kind == "unreadable":
        path.chmod(0)
    return path


def assert_quoted_short(message: str, place: str, most: int) -> None:
    """The message names the place of a huge value and quotes it cut short, in under `most` chars."""
    assert place in message and ("…" in message or "..." in message), message[:1000]
    assert len(message) < most, message[:1000]
