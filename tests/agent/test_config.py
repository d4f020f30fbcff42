"""The agent config: defaults, every key, and faults named by file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.config_faults import BOMB, LONG, SECRET, assert_quoted_short
from tocsin.agent.config import DEFAULT_LISTEN, default_config, default_state_dir, load_config
from tocsin.agent.errors import ConfigError

ENV = {"HOME": "/home/test"}


def write(tmp_path: Path, text: str, name: str = "agent.yml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_defaults_serve_metrics_locally_with_bundled_rules_and_no_push() -> None:
    config = default_config(env=ENV, hostname="web1")
    assert config.listen == ("127.0.0.1", 10042)
    assert config.push is None
    assert config.interval == 10.0
    assert {rule.name for rule in config.rules} >= {"HostCpuHigh", "HostFilesystemFull"}
    assert config.base_labels == (("instance", "web1"), ("job", "tocsin-agent"))


def test_default_port_is_no_registered_exporters_and_an_explicit_9101_still_works(
    tmp_path: Path,
) -> None:
    # Prometheus' default port allocations fill 9100-9999; 9101 is the HAProxy exporter's.
    assert DEFAULT_LISTEN == ("127.0.0.1", 10042)
    assert default_config(env=ENV, hostname="web1").listen == DEFAULT_LISTEN
    old = load_config(write(tmp_path, "listen: 0.0.0.0:9101\n"), env=ENV, hostname="web1")
    assert old.listen == ("0.0.0.0", 9101)


def test_full_config_is_read_into_typed_values(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("s3cret\n")
    write(tmp_path, "rules:\n  - {name: Extra, metric: tocsin_load1, threshold: 8}\n", "more.yml")
    path = write(
        tmp_path,
        """
interval: 5s
listen: "[::1]:9200"
labels: {env: prod}
rules:
  - more.yml
  - {name: Inline, metric: tocsin_swap_used_ratio, op: ">=", threshold: 0.5, for: 1m}
push: {url: "http://bridge:8080/", token_file: token, resend: 2m, timeout: 3s}
spool: {dir: spool, max_bytes: 1MiB}
heartbeat: 15s
state_dir: state
filesystems: {include_fstypes: [nfs4], exclude_mountpoints: "^/boot", timeout: 500ms}
disks: {exclude: "^sd[a-z][0-9]+$"}
""",
    )
    config = load_config(path, env=ENV, hostname="web1")
    assert config.interval == 5.0
    assert config.listen == ("::1", 9200)
    assert config.labels == (("env", "prod"),)
    assert [rule.name for rule in config.rules] == ["Extra", "Inline"]
    assert config.push is not None
    assert (config.push.url, config.push.token, config.push.resend) == (
        "http://bridge:8080",
        "s3cret",
        120.0,
    )
    assert config.spool.dir == tmp_path / "spool"
    assert config.spool.max_bytes == 1024**2
    assert config.heartbeat == 15.0
    assert config.state_dir == tmp_path / "state"
    assert config.sampler.options() == {
        "include_fstypes": ("nfs4",),
        "exclude_mountpoints": "^/boot",
        "fs_timeout": 0.5,
        "exclude_devices": "^sd[a-z][0-9]+$",
    }


@pytest.mark.parametrize(
    ("text", "base"),
    [
        ("listen: 0.0.0.0:9101\n", "http://web1:9101"),
        ("listen: 0.0.0.0:9101\nexternal_url: https://web1.example.com/agent/\n", None),
        ("listen: null\nexternal_url: https://proxy.example.com/web1\n", None),
        ("listen: null\n", None),
    ],
)
def test_alerts_link_to_the_external_url_or_the_listen_port(
    tmp_path: Path, text: str, base: str | None
) -> None:
    config = load_config(write(tmp_path, text), env=ENV, hostname="web1")
    expected = base if "external_url" not in text else text.split("external_url: ")[1].strip()
    assert config.generator_base == (expected.rstrip("/") if expected else None)


def test_listen_null_disables_metrics(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, "listen: null\n"), env=ENV).listen is None


def test_file_without_listen_serves_no_metrics_as_the_contract_says(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "interval: 10s\n"), env=ENV)
    assert config.listen is None


@pytest.mark.parametrize("text", ["", "\n  \n", "# push: {url: http://b:1}\n", "---\n"])
def test_empty_file_is_refused_rather_than_run_on_defaults(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match="the file is empty; write at least one key") as caught:
        load_config(path, env=ENV)
    assert str(caught.value).startswith(f"{path}: ")


def test_token_never_appears_in_repr(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "push: {url: 'http://b:1', token: hunter2}\n"), env=ENV)
    assert "hunter2" not in repr(config)


def test_spool_defaults_under_the_state_dir(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "state_dir: /srv/tocsin\n"), env=ENV)
    assert config.spool.dir == Path("/srv/tocsin/spool")


@pytest.mark.parametrize(
    ("env", "is_root", "expected"),
    [
        ({"STATE_DIRECTORY": "/var/lib/x"}, False, "/var/lib/x"),
        ({}, True, "/var/lib/tocsin-agent"),
        ({"HOME": "/home/u"}, False, "/home/u/.local/state/tocsin-agent"),
        ({"XDG_STATE_HOME": "/xdg"}, False, "/xdg/tocsin-agent"),
    ],
)
def test_state_dir_default_follows_systemd_then_user(
    env: dict[str, str], is_root: bool, expected: str
) -> None:
    assert default_state_dir(env, is_root) == Path(expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("interval: 5 minutes\n", ":1: 'interval' is '5 minutes'"),
        ("\ninterval: 0s\n", ":2: 'interval' is '0s'"),
        ("listen: localhost\n", ":1: 'listen' is 'localhost'; expected host:port"),
        ("labels: {env: 1}\n", ":1: 'labels' has env: 1; quote it"),
        ("labels: {alertname: x}\n", "'labels' has label 'alertname'"),
        ("intervall: 10s\n", ":1: 'intervall' is not a known key"),
        ("push: {token: x}\n", ":1: 'push.url' is missing"),
        ("push:\n  url: ftp://x\n", ":2: 'push.url' is 'ftp://x'; expected an http"),
        ("push: {url: 'http://b', resend: often}\n", "'push.resend' is 'often'"),
        ("push: {url: 'http://b', token: a, token_file: b}\n", "'push.token_file' is given with"),
        ("push: {url: 'http://b', token_file: missing}\n", "'push.token_file' cannot be read"),
        ("spool: {max_bytes: lots}\n", "'spool.max_bytes' is 'lots'"),
        ("filesystems: {exclude_mountpoints: '('}\n", "'filesystems.exclude_mountpoints' is '('"),
        ("filesystems: {include_fstypes: nfs}\n", "'filesystems.include_fstypes' is 'nfs'"),
        ("rules: nope.yml\n", "'rules' is 'nope.yml'; expected a list"),
        ("rules: [nope.yml]\n", "nope.yml: rules file not found"),
        ("rules:\n  - {name: X, metric: tocsin_load1}\n", ":2: rule 'X': 'threshold' is missing"),
        ("external_url: web1:9101\n", ":1: 'external_url' is 'web1:9101'; expected the agent's"),
        ("interval: [\n", "invalid YAML"),
        ("- a\n- b\n", "expected a mapping of settings"),
    ],
)
def test_bad_config_is_refused_naming_line_and_key(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path, env=ENV)
    assert str(path) in str(caught.value) or "nope.yml" in str(caught.value)
    assert expected in str(caught.value)
    assert caught.value.exit_code == 78


def test_missing_config_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "absent.yml", env=ENV)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://user:hunter2@bridge:8080",
        "user:hunter2@bridge:8080",
        "https://user:hunter2@[::1",
        "gopher://bridge/?token=hunter2",
        "https://user:hunter2@",
    ],
)
def test_bad_push_url_is_named_without_its_credentials(tmp_path: Path, url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, f"push: {{url: '{url}'}}\n"), env=ENV)
    assert "'push.url' is '" in str(caught.value)
    assert "hunter2" not in str(caught.value)


def test_push_url_credentials_never_appear_in_repr(tmp_path: Path) -> None:
    config = load_config(
        write(tmp_path, "push: {url: 'https://user:hunter2@b:1/?token=hunter2'}\n"), env=ENV
    )
    assert config.push is not None
    assert "hunter2" not in repr(config)
    assert config.push.display == "https://***@b:1/?***"


def test_token_file_content_is_never_echoed(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("")
    path = write(tmp_path, "push: {url: 'http://b', token_file: token}\n")
    with pytest.raises(ConfigError, match="empty file"):
        load_config(path, env=ENV)


@pytest.mark.parametrize(
    ("text", "place"),
    [
        (f"interval: {BOMB}\n", "agent.yml:1: 'interval' is [["),
        (f"interval: {LONG}\n", "agent.yml:1: 'interval' is 'xxx"),
        (f"listen: {BOMB}\n", "agent.yml:1: 'listen' is [["),
        (f"state_dir: {BOMB}\n", "agent.yml:1: 'state_dir' is [["),
        (f"labels: {BOMB}\n", "agent.yml:1: 'labels' is [["),
        (f"labels: {{env: {BOMB}}}\n", "agent.yml:1: 'labels' has env: [["),
        (f"rules: {{x: {BOMB}}}\n", "agent.yml:1: 'rules' is {'x': [["),
        (f"push: {BOMB}\n", "agent.yml:1: 'push' is [["),
        (f"push: {{url: {BOMB}}}\n", "agent.yml:1: 'push.url' is [["),
        (f"push: {{url: 'http://b:1/{LONG}', resend: {BOMB}}}\n", "'push.resend' is [["),
        (f"push: {{url: 'http://b:1', token_file: {BOMB}}}\n", "'push.token_file' is [["),
        (f"spool: {{dir: {BOMB}}}\n", "agent.yml:1: 'spool.dir' is [["),
        (f"spool: {{max_bytes: {BOMB}}}\n", "agent.yml:1: 'spool.max_bytes' is [["),
        (f"spool: {{max_bytes: {LONG}}}\n", "agent.yml:1: 'spool.max_bytes' is 'xxx"),
        (f"disks: {{include: {BOMB}}}\n", "agent.yml:1: 'disks.include' is [["),
        (f"{'k' * 1000}: 1\n", "agent.yml:1: 'kkk"),
    ],
)
def test_a_huge_value_is_quoted_short(tmp_path: Path, text: str, place: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text), env=ENV)
    assert_quoted_short(str(caught.value), place, len(str(tmp_path)) + 300)


@pytest.mark.parametrize(
    "push",
    [
        f"{{url: 'http://b:1', token: [{SECRET}]}}",
        f"{{url: 'http://b:1', token: {{t: {SECRET}}}}}",
        f"{{url: 'http://b:1', token: {SECRET}, token_file: t}}",
        f"{{url: 'http://b:1', token: {SECRET}, tokn: x}}",
        f"{{url: 'ftp://b:1/?token={SECRET}', token: {SECRET}}}",
    ],
)
def test_the_push_token_is_never_quoted_in_an_error(tmp_path: Path, push: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, f"push: {push}\n"), env=ENV)
    assert SECRET not in str(caught.value)
