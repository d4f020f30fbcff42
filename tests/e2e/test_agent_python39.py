"""The agent installs and runs on Python 3.9, the oldest Python it supports.

Debian 11, Ubuntu 20.04/22.04 and RHEL 8 ship Python 3.9 or other Pythons older than 3.11. One
venv per module under a real Python 3.9 gets this checkout's wheel without the bridge extra (its
dependencies from the package index, as a host would get them); then the installed commands run:
--version, check-config (the bundled rules too), rules export, a short `run` that serves /metrics
(scraped here) and pushes an alert to a local receiver, and `tocsin-bridge`, which refuses in one
line naming the Python it needs. `make lint` checks the source against 3.9 too (tests/python39.py);
this proves it really runs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import pytest
import requests

from tests.agent.fakes import Receiver
from tests.e2e.test_agent_alertmanager import AgentProcess, always, free_port, wait_until
from tests.peers import missing_peer
from tests.wheel import build_wheel

pytestmark = pytest.mark.e2e
VERSION = metadata.version("tocsin")
# Import every module an agent-only install has, as a host's Python 3.9 would.
IMPORT_ALL = """
import importlib, pkgutil, sys
import tocsin.agent, tocsin.common, tocsin_rules
assert sys.version_info[:2] == (3, 9), sys.version
for package in (tocsin.agent, tocsin.common, tocsin_rules):
    for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        importlib.import_module(module.name)
print("imported")
"""


def python39() -> str:
    """Return a Python 3.9 interpreter: pyenv's, else `python3.9` on PATH (a pyenv shim may fail)."""
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    found = shutil.which("python3.9")
    candidates = [*sorted(root.glob("versions/3.9*/bin/python3.9"), reverse=True)]
    candidates += [Path(found)] if found else []
    for candidate in candidates:
        probe = subprocess.run(
            [candidate, "-c", "import sys; print(sys.version_info[:2] == (3, 9))"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if probe.stdout.strip() == "True":
            return str(candidate)
    missing_peer(
        "no Python 3.9 (python3.9 on PATH or $PYENV_ROOT/versions/3.9*): the agent's oldest "
        "supported Python; `pyenv install 3.9` provides it"
    )
    raise AssertionError("unreachable")


def run(*argv: str | Path, ok: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a command with the machine's environment; when `ok`, fail with its output if it fails."""
    done = subprocess.run(
        [str(arg) for arg in argv],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )
    if ok:
        assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    return done


@pytest.fixture(scope="module")
def bin39(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bin/ of a Python 3.9 venv holding the agent, installed from this checkout's wheel."""
    work = tmp_path_factory.mktemp("python39")
    wheel = build_wheel(work)
    interpreter = python39()
    bin_dir = work / "venv" / "bin"
    # The interpreter's own pip installs into a venv without one (seconds less than ensurepip).
    if run(interpreter, "-m", "pip", "--version", ok=False).returncode == 0:
        run(interpreter, "-m", "venv", "--without-pip", work / "venv")
        pip: tuple[str | Path, ...] = (interpreter, "-m", "pip", "--python", bin_dir / "python")
    else:
        run(interpreter, "-m", "venv", work / "venv")
        pip = (bin_dir / "python", "-m", "pip")
    run(*pip, "install", "--quiet", wheel)
    return bin_dir


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """An HTTP receiver on 127.0.0.1 that accepts every push."""
    started = Receiver().start()
    yield started
    started.stop()


def test_every_agent_module_imports_and_the_version_is_the_packages(bin39: Path) -> None:
    assert run(bin39 / "python", "-c", IMPORT_ALL).stdout == "imported\n"
    assert run(bin39 / "tocsin-agent", "--version").stdout == f"tocsin-agent, version {VERSION}\n"


def test_the_bundled_rules_load_and_export(bin39: Path, tmp_path: Path) -> None:
    config = tmp_path / "agent.yml"
    config.write_text(f"listen: 127.0.0.1:{free_port()}\nstate_dir: {tmp_path / 'state'}\n")
    checked = run(bin39 / "tocsin-agent", "check-config", config).stdout
    bundled = int(checked.split("OK: ", 1)[1].split(" rules", 1)[0])
    assert bundled > 10, checked
    exported = run(bin39 / "tocsin-agent", "rules", "export").stdout
    assert "\ngroups:\n- name: tocsin-agent\n" in exported


def test_the_agent_checks_its_config_runs_serves_metrics_and_pushes(
    bin39: Path, receiver: Receiver, tmp_path: Path
) -> None:
    port = free_port()
    config = tmp_path / "agent.yml"
    config.write_text(
        f"interval: 200ms\nlisten: 127.0.0.1:{port}\nlabels: {{env: py39}}\n"
        f"state_dir: {tmp_path / 'state'}\n"
        f"push: {{url: '{receiver.url}', resend: 1h, timeout: 2s}}\n"
        f"rules:\n{always('Py39Always')}"
    )
    checked = run(bin39 / "tocsin-agent", "check-config", config)
    assert checked.stdout.startswith(f"{config}: OK: 1 rules, /metrics on 127.0.0.1:{port}")

    agent = AgentProcess(config, program=bin39 / "tocsin-agent")
    try:
        agent.expect("serving /metrics")

        def scrape() -> str:
            try:
                answer = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=2)
            except requests.RequestException:
                return ""
            return answer.text if answer.ok and "tocsin_load1 " in answer.text else ""

        text = wait_until(scrape, 30, "/metrics with tocsin_load1")
        assert 'tocsin_agent_build_info{python="3.9.' in text
        assert f'version="{VERSION}"}} 1.0' in text
        (alert, *_) = wait_until(receiver.alerts, 30, "the pushed alert")
        assert alert["labels"]["alertname"] == "Py39Always"
        assert alert["labels"]["env"] == "py39"
        assert alert["startsAt"].endswith("Z")
    finally:
        agent.stop()


def test_the_bridge_command_names_the_python_it_needs(bin39: Path) -> None:
    python = run(bin39 / "python", "-c", "import platform; print(platform.python_version())")
    done = run(bin39 / "tocsin-bridge", "--version", ok=False)
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == (
        f"tocsin-bridge: the bridge needs Python 3.11 or newer, this is Python "
        f"{python.stdout.strip()} (the agent, tocsin-agent, runs on Python 3.9 and newer)\n"
    )
