"""The package list in pyproject.toml must name every package, or a plain install loses modules."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_package_directory_is_listed_in_pyproject() -> None:
    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "tocsin").rglob("__init__.py")
    }
    assert found <= listed, f"add to [tool.setuptools] packages: {sorted(found - listed)}"
    assert "tocsin_rules" in listed


def test_bundled_rules_are_readable_as_package_data() -> None:
    from importlib.resources import files

    assert files("tocsin_rules").joinpath("agent.yml").is_file()
    assert files("tocsin_rules").joinpath("policy.yml").is_file()
