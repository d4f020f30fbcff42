"""The operator's guide's YAML is what the programs accept: configs load, the policy parses, and
the Prometheus and Alertmanager fragments are the shipped examples'."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.agent.certs import make_pki
from tocsin.agent.config import load_config as load_agent_config
from tocsin.bridge.platform.config import load_config as load_bridge_config
from tocsin.bridge.policy.load import parse_policy

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "README.md"
EXAMPLES = ROOT / "examples"


def yaml_blocks() -> list[str]:
    """Return the text of every ```yaml block of the guide."""
    return re.findall(r"```yaml\n(.*?)```", GUIDE.read_text(), flags=re.DOTALL)


def blocks_with(key: str) -> list[str]:
    """Return the YAML blocks whose top level has `key`."""
    return [text for text in yaml_blocks() if key in (yaml.safe_load(text) or {})]


def localized(text: str, tmp_path: Path) -> str:
    """Point /etc/tocsin/ files at temporary ones holding a placeholder secret."""
    for name in set(re.findall(r"/etc/tocsin/([\w.-]+)", text)):
        (tmp_path / name).write_text("guide-placeholder-secret-value-0123456789\n")
    return text.replace("/etc/tocsin/", f"{tmp_path}/")


def is_subset(part: Any, whole: Any) -> bool:
    """Tell whether every key and item of `part` is also in `whole`, recursively."""
    if isinstance(part, dict):
        return isinstance(whole, dict) and all(
            key in whole and is_subset(value, whole[key]) for key, value in part.items()
        )
    if isinstance(part, list):
        return isinstance(whole, list) and all(
            any(is_subset(item, other) for other in whole) for item in part
        )
    return bool(part == whole)


def test_every_yaml_block_parses() -> None:
    blocks = yaml_blocks()
    assert len(blocks) >= 6
    for text in blocks:
        yaml.safe_load(text)


def test_agent_configs_of_the_guide_load(tmp_path: Path) -> None:
    full, receivers, delivery = blocks_with("push")
    path = tmp_path / "agent.yml"
    path.write_text(localized(full, tmp_path))
    config = load_agent_config(path, env={}, hostname="web-1")
    assert config.push is not None and config.push.token
    path.write_text(localized(receivers, tmp_path))
    pki = make_pki(tmp_path / "pki")
    for name, made in (
        ("ca.pem", pki.ca),
        ("agent.pem", pki.client_cert),
        ("agent.key", pki.client_key),
    ):
        shutil.copy(made, tmp_path / name)
    config = load_agent_config(path, env={}, hostname="web-1")
    assert [push.label for push in config.receivers] == ["am1", "am2"]
    assert config.push is not None and config.push.auth is not None
    path.write_text(localized(delivery, tmp_path))
    config = load_agent_config(path, env={}, hostname="web-1")
    assert config.push is not None and (config.push.max_batch, config.spool.dead_letters) == (
        500,
        1000,
    )


@pytest.mark.parametrize("index", [0, 1])
def test_bridge_configs_of_the_guide_load(index: int, tmp_path: Path) -> None:
    text = blocks_with("tokens")[index]
    (tmp_path / "policy.yml").write_text((ROOT / "rules" / "policy.yml").read_text())
    path = tmp_path / "bridge.yml"
    path.write_text(localized(text, tmp_path))
    config = load_bridge_config(path, env={})
    assert {token.role for token in config.tokens} == {"ingest", "operator"}


def test_policy_of_the_guide_parses(tmp_path: Path) -> None:
    (text,) = blocks_with("escalation_policies")
    policy = parse_policy(localized(text, tmp_path), "README.md")
    assert set(policy.priorities) == {"P1", "P2", "P3"}
    assert policy.routes[-1].match == {}


def test_prometheus_fragment_is_the_examples() -> None:
    (text,) = blocks_with("alerting")
    example = yaml.safe_load((EXAMPLES / "prometheus.yml").read_text())
    assert is_subset(yaml.safe_load(text), example)


def test_alertmanager_fragment_is_the_examples() -> None:
    (text,) = blocks_with("receivers")
    example = yaml.safe_load((EXAMPLES / "alertmanager.yml").read_text())
    assert is_subset(yaml.safe_load(text), example)


def test_the_single_sign_on_block_of_the_guide_loads(tmp_path: Path) -> None:
    (text,) = blocks_with("sso")
    path = tmp_path / "bridge.yml"
    path.write_text(localized(text, tmp_path))
    sso = load_bridge_config(path, env={}).sso
    assert sso is not None and sso.roles["oncall-leads"] == "manager" and sso.client_secret
