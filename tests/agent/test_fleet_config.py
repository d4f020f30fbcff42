"""One config for a fleet: `${VAR}` substitution, the `hostname` key, and what export leaves out."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tocsin.agent.config import config_warnings, load_config
from tocsin.agent.errors import ConfigError
from tocsin.agent.rules import load_bundled_rules


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "agent.yml"
    path.write_text(text)
    return path


def test_variables_and_defaults_are_substituted(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "labels:\n"
        "  env: ${TOCSIN_ENV}\n"
        "  dc: ${TOCSIN_DC:-fra1}\n"
        "  team: ${TOCSIN_TEAM:-ops}\n"
        "  note: 'costs $${NOT_A_VARIABLE}'\n"
        "push: {url: 'http://${RECEIVER}:9093', token: '${TOKEN}'}\n",
    )
    env = {"TOCSIN_ENV": "prod", "TOCSIN_TEAM": "", "RECEIVER": "127.0.0.1", "TOKEN": "s3cret"}
    config = load_config(path, env=env, hostname="web-1")
    assert dict(config.labels) == {
        "env": "prod",
        "dc": "fra1",
        "team": "ops",  # set but empty takes the default, as in the shell
        "note": "costs ${NOT_A_VARIABLE}",
    }
    assert config.push is not None and config.push.url == "http://127.0.0.1:9093"
    assert config.push.token == "s3cret"


def test_an_unset_variable_names_file_line_and_variable(tmp_path: Path) -> None:
    path = write(tmp_path, "interval: 10s\nlabels:\n  env: ${TOCSIN_ENV}\n")
    with pytest.raises(ConfigError) as raised:
        load_config(path, env={"TOKEN": "s3cret"}, hostname="web-1")
    assert str(raised.value) == (
        f"{path}:3: ${{TOCSIN_ENV}} is not set in the environment; "
        "set it, or give a default as ${TOCSIN_ENV:-default}"
    )


def test_a_substituted_value_is_checked_like_a_written_one(tmp_path: Path) -> None:
    path = write(tmp_path, "interval: ${INTERVAL}\n")
    with pytest.raises(ConfigError, match=rf"{path}:1: 'interval' is 'soon'; expected a duration"):
        load_config(path, env={"INTERVAL": "soon"}, hostname="web-1")


@pytest.mark.parametrize(
    ("value", "instance"),
    [
        ("web-1.example.com", "web-1.example.com"),
        ("fqdn", socket.getfqdn()),
        ("short", socket.gethostname()),
        ("${HOST:-db-2.example.com}", "db-2.example.com"),
    ],
)
def test_hostname_sets_the_instance_label(tmp_path: Path, value: str, instance: str) -> None:
    config = load_config(write(tmp_path, f"hostname: {value}\n"), env={}, hostname="ignored")
    assert config.instance == instance
    assert dict(config.base_labels)["instance"] == instance


def test_without_hostname_the_instance_is_the_host_name(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, "interval: 10s\n"), env={}, hostname="web-1").instance == (
        "web-1"
    )


def test_a_bad_hostname_names_file_line_and_key(tmp_path: Path) -> None:
    path = write(tmp_path, "interval: 10s\nhostname: 'two words'\n")
    with pytest.raises(ConfigError, match=rf"{path}:2: 'hostname' is 'two words'; expected"):
        load_config(path, env={}, hostname="web-1")


def test_warnings_name_silently_disabled_alerting_and_metrics(tmp_path: Path) -> None:
    quiet = load_config(write(tmp_path, "rules: []\n"), env={}, hostname="web-1")
    assert len(config_warnings(quiet)) == 2
    loud = load_config(write(tmp_path, "listen: 127.0.0.1:9101\n"), env={}, hostname="web-1")
    assert config_warnings(loud) == []


def conf_d(tmp_path: Path, main: str, **files: str) -> Path:
    (tmp_path / "conf.d").mkdir()
    for name, text in files.items():
        (tmp_path / "conf.d" / f"{name}.yml").write_text(text)
    return write(tmp_path, main)


def test_includes_merge_in_name_order_over_the_main_file(tmp_path: Path) -> None:
    path = conf_d(
        tmp_path,
        "include: conf.d/*.yml\ninterval: 10s\nlabels: {env: prod}\n",
        **{
            "20-web": "labels: {team: web}\n",
            "10-base": "interval: 20s\nlabels: {team: base, dc: ${DC}}\n",
        },
    )
    config = load_config(path, env={"DC": "fra1"}, hostname="web-1")
    assert config.interval == 20.0
    assert dict(config.labels) == {"env": "prod", "team": "web", "dc": "fra1"}


def test_a_fault_in_an_included_file_names_that_file_and_line(tmp_path: Path) -> None:
    path = conf_d(
        tmp_path, "include: [conf.d/*.yml]\n", **{"30-bad": "labels: {}\ninterval: soon\n"}
    )
    with pytest.raises(ConfigError) as raised:
        load_config(path, env={}, hostname="web-1")
    assert str(raised.value).startswith(f"{tmp_path}/conf.d/30-bad.yml:2: 'interval' is 'soon'")


CPU_AGAIN = """rules:
  - name: HostCpuHigh
    metric: tocsin_cpu_usage_ratio
    threshold: 0.7
    clear: 0.6
    severity: warning
"""


def test_a_rule_defined_twice_is_an_error_naming_both_places(tmp_path: Path) -> None:
    path = conf_d(tmp_path, "include: conf.d/*.yml\nrules: [bundled]\n", web=CPU_AGAIN)
    with pytest.raises(ConfigError) as raised:
        load_config(path, env={}, hostname="web-1")
    message = str(raised.value)
    assert message.startswith(f"{tmp_path}/conf.d/web.yml:2: rule 'HostCpuHigh': same name")
    assert "the rule at tocsin_rules/agent.yml:" in message and "'override: true'" in message


def test_override_true_replaces_a_bundled_rule_in_its_place(tmp_path: Path) -> None:
    path = conf_d(
        tmp_path,
        "include: conf.d/*.yml\nrules: [bundled]\n",
        web=CPU_AGAIN + "    override: true\n",
    )
    rules = load_config(path, env={}, hostname="web-1").rules
    bundled = load_bundled_rules()
    assert len(rules) == len(bundled)
    assert rules[0].name == "HostCpuHigh" and rules[0].threshold == 0.7
    assert rules[0].source.startswith(f"{tmp_path}/conf.d/web.yml")
    assert rules[1:] == bundled[1:]


def test_an_included_file_may_not_include_again(tmp_path: Path) -> None:
    path = conf_d(tmp_path, "include: conf.d/*.yml\n", web="labels: {a: b}\ninclude: x/*.yml\n")
    with pytest.raises(ConfigError, match=r"web.yml:2: 'include' is only read in the main"):
        load_config(path, env={}, hostname="web-1")


def test_include_must_be_patterns(tmp_path: Path) -> None:
    path = write(tmp_path, "interval: 10s\ninclude: {a: 1}\n")
    with pytest.raises(ConfigError, match=rf"{path}:2: 'include' is .*; expected a file pattern"):
        load_config(path, env={}, hostname="web-1")
