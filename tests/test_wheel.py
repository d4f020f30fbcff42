"""The built wheel installs under the project's own names, with its data files, into a fresh venv."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
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


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """Build the wheel from a copy of the source, install it alone into a fresh venv, probe it."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"  # building writes build/ and *.egg-info: never into the checkout
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for name in ("tocsin", "rules"):
        shutil.copytree(ROOT / name, source / name, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    pip = (sys.executable, "-m", "pip")
    run(*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", work / "dist", source, cwd=work)
    (wheel,) = (work / "dist").glob("tocsin-*.whl")
    venv.create(work / "venv", with_pip=False)
    python = work / "venv" / "bin" / "python"
    run(*pip, "--python", python, "install", "--no-deps", wheel, cwd=work)
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
