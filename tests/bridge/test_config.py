from __future__ import annotations

from pathlib import Path

import pytest

from bridge.config import BridgeConfig, digest, load_config, parse_config
from bridge.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bridge.yml"
    path.write_text(text)
    return path


def test_no_file_gives_the_documented_defaults() -> None:
    config = load_config(None)
    assert (config.listen, config.database_url, config.policy) == (
        "127.0.0.1:8080",
        "sqlite:///tocsin.db",
        None,
    )
    assert config.limits.max_body_bytes == 1024 * 1024


def test_token_sources_all_end_as_digests(tmp_path: Path) -> None:
    (tmp_path / "t").write_text("from-file\n")
    text = f"""
tokens:
  - {{name: a, role: ingest, value: plain}}
  - {{name: b, role: operator, value_file: t}}
  - {{name: c, role: operator, sha256: "{digest("hashed")}"}}
  - {{name: d, role: ingest, env: BRIDGE_TOKEN}}
"""
    config = load_config(write(tmp_path, text), env={"BRIDGE_TOKEN": "from-env"})
    assert [t.sha256 for t in config.tokens] == [
        digest(v) for v in ("plain", "from-file", "hashed", "from-env")
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("listen: localhost\n", "bridge.yml:1: listen: 'localhost' is not HOST:PORT"),
        ("lisen: 1\n", "bridge.yml:1: lisen: unknown key 'lisen'"),
        (
            "tokens:\n  - {name: a, role: admin, value: x}\n",
            "tokens[0].role: 'admin' is not one of ingest, operator",
        ),
        ("tokens:\n  - {name: a, role: ingest}\n", "give exactly one of value"),
        ("limits: {max_body_bytes: lots}\n", "limits.max_body_bytes: 'lots' is not a size"),
        ("database_url: mysql://x\n", "database_url: expected sqlite"),
        (
            "tokens:\n  - {name: a, role: ingest, value_file: /nonexistent}\n",
            "cannot read /nonexistent",
        ),
    ],
)
def test_errors_name_file_line_and_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text), env={})
    assert message in caught.value.message
    assert caught.value.exit_code == 78


def test_relative_sqlite_path_is_taken_from_the_config_directory(tmp_path: Path) -> None:
    config = parse_config({"database_url": "sqlite:///data/t.db"}, "x", base=tmp_path)
    assert config.database_url == f"sqlite:///{tmp_path / 'data/t.db'}"


def test_secrets_never_appear_in_repr() -> None:
    config = parse_config(
        {"tokens": [{"name": "a", "role": "ingest", "value": "s3cret"}], "secret_key": "k3y"}, "x"
    )
    assert "s3cret" not in repr(config) and "k3y" not in repr(config)
    assert isinstance(config, BridgeConfig)
