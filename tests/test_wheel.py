"""The built wheel installs under the project's own names, with its data files, into a fresh venv."""

from __future__ import annotations

import json
import sys
import venv
from pathlib import Path

import pytest

from tests.wheel import ROOT, build_wheel, run

DATA = {  # source folder -> where its files land in site-packages
    ROOT / "tocsin" / "bridge" / "web" / "templates": "tocsin/bridge/web/templates",
    ROOT / "tocsin" / "bridge" / "web" / "static": "tocsin/bridge/web/static",
    ROOT / "tocsin" / "bridge" / "notify" / "mail_templates": "tocsin/bridge/notify/mail_templates",
    ROOT / "rules": "tocsin_rules",
}
PROBE = """
import importlib.metadata, importlib.resources, importlib.util, json, sysconfig
print(json.dumps({
    "purelib": sysconfig.get_paths()["purelib"],
    "found": {name: importlib.util.find_spec(name) is not None
              for name in ("tocsin", "tocsin_rules", "agent", "bridge", "common", "rules")},
    "scripts": sorted(f"{e.name}={e.value}" for e in importlib.metadata.entry_points(
        group="console_scripts") if e.dist and e.dist.name == "tocsin"),
    "rules": importlib.resources.files("tocsin_rules").joinpath("agent.yml").is_file(),
}))
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """Build the wheel from a copy of the source, install it alone into a fresh venv, probe it."""
    work = tmp_path_factory.mktemp("wheel")
    wheel = build_wheel(work)
    venv.create(work / "venv", with_pip=False)
    python = work / "venv" / "bin" / "python"
    run(sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", wheel, cwd=work)
    probe: dict[str, object] = json.loads(run(python, "-I", "-c", PROBE, cwd=work))
    return probe


def test_only_the_projects_own_names_are_importable(installed: dict[str, object]) -> None:
    assert installed["found"] == {
        "tocsin": True,
        "tocsin_rules": True,
        "agent": False,
        "bridge": False,
        "common": False,
        "rules": False,
    }


def test_only_tocsin_and_tocsin_rules_are_top_level(installed: dict[str, object]) -> None:
    purelib = Path(str(installed["purelib"]))
    tops = {p.name for p in purelib.iterdir() if not p.name.endswith(".dist-info")}
    assert tops - {"_virtualenv.py", "_virtualenv.pth"} == {"tocsin", "tocsin_rules"}


def test_entry_points_are_unchanged(installed: dict[str, object]) -> None:
    assert installed["scripts"] == [
        "tocsin-agent=tocsin.agent.cli:main",
        "tocsin-bridge=tocsin.bridge.cli:main",
    ]


@pytest.mark.parametrize("folder", list(DATA), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_data_file_is_installed(installed: dict[str, object], folder: Path) -> None:
    purelib = Path(str(installed["purelib"]))
    wanted = sorted(
        p.relative_to(folder)
        for p in folder.rglob("*")
        if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts
    )
    assert wanted, f"{folder} holds no data files"
    missing = [str(p) for p in wanted if not (purelib / DATA[folder] / p).is_file()]
    assert not missing, f"not in the wheel: {missing}"
    assert installed["rules"] is True
