"""The Python 3.9 check of `make lint` (tests/python39.py) fails on each 3.10+ form it must catch,
passes 3.9 code that uses `X | None` annotations, and covers what ruff's py39 target covers."""

from __future__ import annotations

import tomllib
from pathlib import Path

from tests.python39 import PATHS, ROOT, check, main

NEEDS_310 = {  # file -> a line of it that Python 3.9 cannot run
    "utc.py": ("import datetime\nprint(datetime.UTC)\n", 2),
    "zip_strict.py": ("print(list(zip([1], [2], strict=True)))\n", 1),
    "match.py": ("match 1:\n    case 1:\n        pass\n", 1),
    "is_integer.py": ("print((3).is_integer())\n", 1),
    "isinstance.py": (
        "from __future__ import annotations\n\n\ndef f(v: int | None) -> bool:\n"
        "    return isinstance(v, int | float)\n",
        5,
    ),
    "alias.py": ("Number = int | float | None\n", 1),
    "eager_annotation.py": ("def f(v: int | None) -> None:\n    pass\n", 1),
}
RUNS_ON_39 = """from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass
class Point:
    label: str | None = None


def parse(value: str | None, flags: int = re.I | re.M) -> list[int] | None:
    seen: dict[str, int] | None = None
    return [flags | 1] if isinstance(value, (int, float)) and seen is None else None
"""


def test_each_310_form_is_named_with_its_file(tmp_path: Path) -> None:
    for name, (source, _line) in NEEDS_310.items():
        (tmp_path / name).write_text(source)
    problems = "\n".join(check([tmp_path]))
    for name, (_source, line) in NEEDS_310.items():
        assert f"{tmp_path / name}:{line}: " in problems, f"{name} passed the 3.9 check"
    assert main([str(tmp_path / "utc.py")]) == 1


def test_39_code_with_union_annotations_passes(tmp_path: Path) -> None:
    (tmp_path / "fine.py").write_text(RUNS_ON_39)
    assert check([tmp_path]) == []
    assert main([str(tmp_path)]) == 0


def test_ruff_targets_39_on_every_checked_path() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    per_file = pyproject["tool"]["ruff"]["per-file-target-version"]
    wanted = {path if path.endswith(".py") else f"{path}/**": "py39" for path in PATHS}
    assert per_file == wanted
    assert pyproject["project"]["requires-python"] == ">=3.9"
