"""Imports follow the architecture: each program alone, common beneath both, bridge layers upward.

Each failure names the importing file and line, the module imported and the rule it breaks.
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TOCSIN = ROOT / "tocsin"
# The bridge's packages from the bottom up; a package may import its own layer and those below,
# never one above, and no two packages may import each other even through others.
# Keep in step with the list in tocsin/bridge/__init__.py (checked below).
LAYERS: tuple[tuple[str, ...], ...] = (
    ("errors", "platform"),
    ("store", "policy", "migrations"),
    ("timers", "paging", "kb", "accounts"),
    ("incidents", "sla"),
    ("ingest", "notify", "reports", "maintenance", "mailin"),
    ("runtime",),
    ("api", "web"),
    ("server", "cli"),
)
LAYER = {package: level for level, packages in enumerate(LAYERS, 1) for package in packages}
COMMON_MAY_IMPORT = {"yaml"}  # besides the standard library and tocsin.common itself


@dataclass(frozen=True)
class Import:
    """One import statement's target, with where it is written."""

    path: Path
    line: int
    module: str
    from_name: bool = False  # `from package import name`: name may be a module or an attribute

    @property
    def where(self) -> str:
        """Return 'tocsin/…/file.py:12', the place a reader must edit."""
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def module_name(path: Path) -> str:
    """Return the dotted name of a source file under the repository root."""
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> Iterator[Import]:
    """Yield every module a file imports, at any depth (functions and TYPE_CHECKING included)."""
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(path, node.lineno, alias.name)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, node.module] if node.module else base)
            yield Import(path, node.lineno, module)
            for alias in node.names:  # `from tocsin.bridge import notify` imports a package
                if f"{module}.{alias.name}".count(".") <= 2:
                    yield Import(path, node.lineno, f"{module}.{alias.name}", from_name=True)


def sources(package: str) -> list[Path]:
    """Return the Python files of a package under tocsin/, sorted."""
    return sorted((TOCSIN / package).rglob("*.py"))


def within(module: str, package: str) -> bool:
    """Tell whether a dotted module name is `package` or inside it."""
    return module == package or module.startswith(package + ".")


def bridge_package(module: str) -> str | None:
    """Return the bridge package (or root module such as errors) a module belongs to."""
    parts = module.split(".")
    return parts[2] if parts[:2] == ["tocsin", "bridge"] and len(parts) > 2 else None


@pytest.mark.parametrize(
    ("program", "other"), [("agent", "bridge"), ("bridge", "agent"), ("common", "agent")]
)
def test_a_program_never_imports_the_other(program: str, other: str) -> None:
    broken = [
        f"{item.where} imports {item.module}: tocsin.{program} must not import tocsin.{other}"
        + " (share it through tocsin.common instead)"
        for path in sources(program)
        for item in imports_of(path)
        if within(item.module, f"tocsin.{other}")
    ]
    assert not broken, "\n".join(broken)


def test_common_imports_only_the_standard_library_and_yaml() -> None:
    broken = [
        f"{item.where} imports {item.module}: tocsin.common may import only the standard library,"
        + " PyYAML and itself (the agent pays for every import it makes)"
        for path in sources("common")
        for item in imports_of(path)
        if not within(item.module, "tocsin.common")
        and item.module.split(".")[0] not in sys.stdlib_module_names | COMMON_MAY_IMPORT
    ]
    assert not broken, "\n".join(broken)


def bridge_imports() -> Iterator[tuple[str, str, Import]]:
    """Yield (importing package, imported package, import) for imports across bridge packages."""
    for path in sources("bridge"):
        source = bridge_package(module_name(path))
        if source is None:
            continue  # tocsin/bridge/__init__.py
        for item in imports_of(path):
            target = bridge_package(item.module)
            if target is not None and target != source:
                yield source, target, item


def test_every_bridge_package_has_a_layer() -> None:
    found = {bridge_package(module_name(path)) for path in sources("bridge")} - {None}
    missing = sorted(str(package) for package in found if package not in LAYER)
    assert not missing, (
        f"tocsin.bridge packages without a layer: {', '.join(missing)}; add each to LAYERS in"
        " tests/test_architecture.py and to the list in tocsin/bridge/__init__.py"
    )


def test_lower_bridge_layers_never_import_upper_ones() -> None:
    broken = [
        f"{item.where} imports {item.module}: {source} (layer {LAYER[source]}) may not import"
        f" {target} (layer {LAYER[target]}); lower layers never import upper ones: move the"
        " shared piece down, or let the upper layer pass it in (order: tocsin/bridge/__init__.py)"
        for source, target, item in bridge_imports()
        if source in LAYER and target in LAYER and LAYER[target] > LAYER[source]
    ]
    assert not broken, "\n".join(broken)


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    """Return one cycle of packages as [a, b, …, a], or [] when the graph has none."""
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        state[node] = "done"
        stack.pop()
        return []

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return []


def test_bridge_packages_import_each_other_without_cycles() -> None:
    graph: dict[str, set[str]] = {}
    first: dict[tuple[str, str], Import] = {}
    for source, target, item in bridge_imports():
        graph.setdefault(source, set()).add(target)
        first.setdefault((source, target), item)
    cycle = find_cycle(graph)
    steps = [f"{first[edge].where} imports {first[edge].module}" for edge in pairwise(cycle)]
    assert not cycle, f"bridge packages import each other: {' -> '.join(cycle)}\n" + "\n".join(
        steps
    )


def test_find_cycle_names_the_loop() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) == []


def test_the_bridge_docstring_lists_the_same_layers() -> None:
    docstring = ast.get_docstring(ast.parse((TOCSIN / "bridge" / "__init__.py").read_text())) or ""
    written = [
        tuple(name.strip() for name in line.split(":", 1)[1].split(","))
        for line in docstring.splitlines()
        if line.strip().startswith("layer ")
    ]
    assert written == list(LAYERS), (
        "tocsin/bridge/__init__.py must list the layers of tests/test_architecture.py, one line"
        f" each as 'layer N: a, b' from the bottom up; it lists {written}"
    )


def package_inits() -> list[Path]:
    """Return the __init__.py of tocsin, common, agent and each top-level bridge package."""
    tops = [TOCSIN / name / "__init__.py" for name in ("agent", "bridge", "common")]
    return [*tops, *sorted((TOCSIN / "bridge").glob("*/__init__.py"))]


@pytest.mark.parametrize("init", package_inits(), ids=lambda p: module_name(p))
def test_each_package_says_what_it_owns_and_may_import(init: Path) -> None:
    docstring = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""
    assert "Owns" in docstring and "May import" in docstring, (
        f"{init.relative_to(ROOT)}: its docstring must say what the package owns ('Owns …') and"
        " what it may import ('May import …')"
    )


def test_the_architecture_page_names_only_files_that_exist() -> None:
    page = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`(tocsin/[\w/.]+)`", page))
    assert named, "docs/ARCHITECTURE.md names no tocsin/ path"
    missing = sorted(path for path in named if not (ROOT / path).exists())
    assert not missing, f"docs/ARCHITECTURE.md names paths that do not exist: {missing}"


def exists(module: str) -> bool:
    """Tell whether a dotted tocsin module is a file or a package in the source tree."""
    path = ROOT.joinpath(*module.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def test_every_tocsin_import_names_a_module_that_exists() -> None:
    # mypy ignores missing imports (third-party stubs), so a module moved away is caught here.
    broken = [
        f"{item.where} imports {item.module}, which does not exist (moved? see the package list"
        " in tocsin/bridge/__init__.py and docs/ARCHITECTURE.md)"
        for package in ("agent", "bridge", "common")
        for path in sources(package)
        for item in imports_of(path)
        if within(item.module, "tocsin") and not item.from_name and not exists(item.module)
    ]
    assert not broken, "\n".join(broken)
