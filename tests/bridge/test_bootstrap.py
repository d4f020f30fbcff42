from __future__ import annotations

import stat
from pathlib import Path

from tocsin.bridge.platform.bootstrap import ensure_secrets
from tocsin.bridge.platform.config import BridgeConfig


def test_first_start_generates_private_tokens_and_key_once(tmp_path: Path) -> None:
    first = ensure_secrets(BridgeConfig(data_dir=tmp_path))
    second = ensure_secrets(BridgeConfig(data_dir=tmp_path))
    assert sorted(t.role for t in first.tokens) == ["ingest", "operator"]
    assert first.tokens == second.tokens and first.secret_key == second.secret_key
    assert stat.S_IMODE((tmp_path / "tokens.yml").stat().st_mode) == 0o600


def test_generated_token_values_are_not_logged(tmp_path: Path, caplog) -> None:  # type: ignore[no-untyped-def]
    ensure_secrets(BridgeConfig(data_dir=tmp_path))
    text = (tmp_path / "tokens.yml").read_text()
    values = [line.split("value: ")[1] for line in text.splitlines() if "value: " in line]
    assert values and not any(value in caplog.text for value in values)
    assert "tokens.yml" in caplog.text
