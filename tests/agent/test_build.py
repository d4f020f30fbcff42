"""The agent's version comes from package metadata; an agent-only install's tocsin-bridge says why
it cannot run in one line instead of a traceback."""

from __future__ import annotations

import platform
import subprocess
import sys
from importlib import metadata

from click.testing import CliRunner
from prometheus_client import CollectorRegistry, generate_latest

from tocsin.agent.cli import main
from tocsin.agent.selfmetrics import AgentCollector, AgentSnapshot
from tocsin.common.extras import BRIDGE_MODULES, missing_modules, package_version

VERSION = metadata.version("tocsin")


def test_version_is_the_installed_packages() -> None:
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    assert result.stdout == f"tocsin-agent, version {VERSION}\n"
    assert package_version() == VERSION


def test_build_info_carries_version_and_python() -> None:
    registry = CollectorRegistry()
    registry.register(AgentCollector(AgentSnapshot))
    text = generate_latest(registry).decode()
    python = platform.python_version()
    assert f'tocsin_agent_build_info{{python="{python}",version="{VERSION}"}} 1.0' in text


AGENT_ONLY = (
    "import sys\n"
    f"for name in {BRIDGE_MODULES!r}: sys.modules[name] = None\n"
    "sys.argv = ['tocsin-bridge', *sys.argv[1:]]\n"
    "from tocsin.bridge.cli import main\n"
    "main()\n"
)


def test_an_agent_only_install_gets_one_line_naming_the_bridge_extra() -> None:
    for args in ([], ["serve"], ["--help"]):
        done = subprocess.run(
            [sys.executable, "-c", AGENT_ONLY, *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 1
        assert done.stdout == ""
        (line,) = done.stderr.splitlines()
        assert line.startswith("tocsin-bridge: the bridge is not installed here (missing: fastapi")
        assert "pip install 'tocsin[bridge]'" in line


def test_with_the_bridge_installed_nothing_is_missing() -> None:
    assert missing_modules(BRIDGE_MODULES) == []
