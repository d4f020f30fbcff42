"""Check that what an agent-only install imports keeps to Python 3.9: `python -m tests.python39`.

Two checks, both run by `make lint` and `make test` over PATHS (or the paths given):
- vermin, a minimum-version checker, on syntax and the standard library (datetime.UTC,
  zip(strict=), match, int.is_integer, ...), as `vermin --target=3.9- --violations FILES`. Its
  annotation checks stay off: its `union-types` feature also flags `X | None` in parameter
  annotations that `from __future__ import annotations` keeps as text, as the agent's modules do.
- `X | Y` of types that Python evaluates (isinstance(v, int | float), an alias `T = int | None`,
  annotations of a module without that import), which 3.9 rejects at run time and which vermin
  leaves to that feature.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Every module an agent-only install imports; pyproject's ruff per-file-target-version names them too.
PATHS = (
    "tocsin/__init__.py",
    "tocsin/agent",
    "tocsin/common",
    "rules/__init__.py",
    "tocsin/bridge/__init__.py",
    "tocsin/bridge/cli/__init__.py",
)
VERMIN = ("--no-config-file", "--target=3.9-", "--violations", "--format", "parsable")
# Builtins that name types, beside class names (CapWords) and None.
_TYPE_NAMES = frozenset(
    "bool bytearray bytes complex dict float frozenset int list object set str tuple type".split()
)


def run_vermin(paths: list[Path]) -> list[str]:
    """Return vermin's violations in the files as `file:line: needs Python V: feature` lines."""
    program = shutil.which("vermin", path=str(Path(sys.executable).parent)) or shutil.which(
        "vermin"
    )
    if program is None:
        return ["vermin is not installed: pip install -e '.[dev]' (or make venv)"]
    done = subprocess.run(
        [program, *VERMIN, *map(str, paths)], capture_output=True, text=True, timeout=300
    )
    found = []
    for line in done.stdout.splitlines():
        # parsable: file:line:column:py2:py3:feature; a file's and the run's totals have no line.
        fields = line.split(":", 5)
        if len(fields) == 6 and fields[1]:
            found.append(f"{fields[0]}:{fields[1]}: needs Python {fields[4]}: {fields[5]}")
    if done.returncode != 0 and not found:
        found.append(f"vermin exited {done.returncode}: {(done.stderr or done.stdout)[-500:]}")
    return found


def _is_type(node: ast.expr) -> bool:
    if isinstance(node, ast.Constant):
        return node.value is None
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return _is_type(node.left) and _is_type(node.right)
    if isinstance(node, ast.Subscript):
        return _is_type(node.value)
    name = node.id if isinstance(node, ast.Name) else getattr(node, "attr", "")
    return name in _TYPE_NAMES or (name[:1].isupper() and not name.isupper())


def _lazy_annotations(tree: ast.Module) -> bool:
    """Tell whether the module imports `annotations` from __future__ (PEP 563)."""
    return any(
        isinstance(node, ast.ImportFrom)
        and node.module == "__future__"
        and any(alias.name == "annotations" for alias in node.names)
        for node in tree.body
    )


def _evaluated(tree: ast.Module) -> Iterator[ast.AST]:
    """Yield every node Python evaluates: annotations are left out only where they stay text."""
    skip: set[int] = set()
    lazy = _lazy_annotations(tree)
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        for annotation in (getattr(node, "annotation", None), getattr(node, "returns", None)):
            if lazy and isinstance(annotation, ast.AST):
                skip.update(id(inner) for inner in ast.walk(annotation))
        yield node


def runtime_unions(path: Path) -> list[str]:
    """Return `file:line` of each `X | Y` of types that is evaluated when the code runs."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = {
        node.lineno
        for node in _evaluated(tree)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr) and _is_type(node)
    }
    return [
        f"{path}:{line}: `X | Y` of types needs Python 3.10; use a tuple or Union"
        for line in sorted(found)
    ]


def python_files(paths: list[Path]) -> list[Path]:
    """Return the .py files of the paths, folders walked."""
    return sorted(p for path in paths for p in ([path] if path.is_file() else path.rglob("*.py")))


def check(paths: list[Path]) -> list[str]:
    """Return every reason the files would not run on Python 3.9."""
    files = python_files(paths)
    return run_vermin(files) + [line for path in files for line in runtime_unions(path)]


def main(argv: list[str]) -> int:
    """Check the given paths (default: the agent's), print the problems, return the exit code."""
    paths = [Path(arg) for arg in argv] or [ROOT / path for path in PATHS]
    problems = check(paths)
    for line in problems:
        print(line)
    print(f"python 3.9 check: {len(python_files(paths))} files, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
