"""First start without secrets: generate a signing key and one token per role, kept in files.

A bridge with no tokens configured must still refuse strangers, so `serve` creates
DATA_DIR/tokens.yml (mode 0600) with an ingest and an operator token, and DATA_DIR/secret.key.
Only the file paths are logged; the values are read from the files by whoever may read them.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import secrets
from pathlib import Path

import yaml

from tocsin.bridge.errors import ConfigError
from tocsin.bridge.platform.config import BridgeConfig, Token, digest

log = logging.getLogger(__name__)
TOKENS_FILE = "tokens.yml"
SECRET_FILE = "secret.key"


def ensure_secrets(config: BridgeConfig) -> BridgeConfig:
    """Return the config with a secret key and tokens, generating files for what is missing."""
    changes: dict[str, object] = {}
    if config.secret_key is None:
        path = config.secret_key_file or config.state_dir / SECRET_FILE
        if config.secret_key_file is None and not path.exists():
            _write_private(path, secrets.token_hex(32) + "\n")
            log.warning("generated a signing key in %s", path.resolve())
        changes["secret_key"] = _read(path).encode()
    if not config.tokens:
        changes["tokens"] = _generated_tokens(config.state_dir / TOKENS_FILE)
    return dataclasses.replace(config, **changes) if changes else config  # type: ignore[arg-type]


def _generated_tokens(path: Path) -> tuple[Token, ...]:
    if not path.exists():
        entries = [
            {"name": f"generated-{role}", "role": role, "value": secrets.token_urlsafe(32)}
            for role in ("ingest", "operator")
        ]
        _write_private(
            path,
            "# Generated on first start because the config names no tokens. Keep secret.\n"
            + yaml.safe_dump(entries, sort_keys=False),
        )
        log.warning(
            "no tokens configured: generated an ingest and an operator token in %s", path.resolve()
        )
    try:
        entries = yaml.safe_load(_read(path)) or []
        return tuple(
            Token(name=str(e["name"]), role=str(e["role"]), sha256=digest(str(e["value"])))
            for e in entries
        )
    except (yaml.YAMLError, KeyError, TypeError) as exc:
        raise ConfigError(
            f"{path}: not a generated token list; delete it to generate new tokens, or configure 'tokens'"
        ) from exc


def _write_private(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as exc:
        raise ConfigError(
            f"{path}: cannot create: {exc.strerror}; set data_dir to a writable directory"
        ) from exc


def _read(path: Path) -> str:
    try:
        value = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    if not value:
        raise ConfigError(f"{path}: empty; delete it to generate a new one")
    return value
