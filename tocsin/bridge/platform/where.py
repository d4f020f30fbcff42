"""Positions in a bridge config source, so every message names the file, line and key path."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tocsin.bridge.errors import ConfigError
from tocsin.common.yamlsource import SHOWN_CHARS, LinedDict, shown

# Keys whose values are credentials (or URLs that carry them): messages never quote them.
SECRET_KEYS = frozenset(
    {"value", "password", "secret", "secret_key", "token", "url", "database_url"}
)
HIDDEN = "the value (not shown: this key holds a secret)"


class Where:
    """A position in a config source, for messages like 'policy.yml:12: routes[0].priority: …'."""

    def __init__(self, source: str, path: str = "", line: int | None = None) -> None:
        self.source = source
        self.path = path
        self.line = line

    def key(self, mapping: object, key: str | int) -> Where:
        """Return the position of one key of a mapping (or one index of a list) below this one."""
        line = self.line
        if isinstance(mapping, LinedDict) and isinstance(key, str):
            line = mapping.key_lines.get(key, mapping.line)
        elif isinstance(mapping, list) and isinstance(key, int):
            item = mapping[key] if key < len(mapping) else None
            if isinstance(item, LinedDict):
                line = item.line
        if isinstance(key, str) and len(key) > SHOWN_CHARS:
            key = key[: SHOWN_CHARS - 1] + "…"  # a key is quoted in every message below it
        path = (
            f"{self.path}[{key}]"
            if isinstance(key, int)
            else (f"{self.path}.{key}" if self.path else key)
        )
        return Where(self.source, path, line)

    @property
    def secret(self) -> bool:
        """Tell whether this key holds a credential, whose value no message may quote."""
        return self.path.rsplit(".", 1)[-1].split("[", 1)[0] in SECRET_KEYS

    def show(self, value: object) -> str:
        """Quote this key's bad value for a message: cut short, and hidden for a secret key."""
        return HIDDEN if self.secret else shown(value)

    @property
    def place(self) -> str:
        """Return 'source:line', or the source alone when the line is unknown."""
        return f"{self.source}:{self.line}" if self.line else self.source

    def error(self, message: str) -> ConfigError:
        """Build a ConfigError that names the source, line and key."""
        place = self.place
        return ConfigError(
            f"{place}: {self.path}: {message}" if self.path else f"{place}: {message}"
        )


def as_mapping(raw: Any, where: Where, allowed: tuple[str, ...] | None = None) -> Mapping[str, Any]:
    """Return a YAML mapping (empty for null), refusing other types and keys not in `allowed`."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        # The type only, never the value: the value may be a secret.
        raise where.error(f"expected a mapping, got {type(raw).__name__}")
    if allowed is not None:
        for key in raw:
            if key not in allowed:
                raise where.key(raw, key).error(
                    f"unknown key {shown(key)}; expected one of {', '.join(allowed)}"
                )
    return raw


def as_list(raw: Any, where: Where) -> list[Any]:
    """Return a YAML list (empty for null), refusing other types."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise where.error(f"expected a list, got {type(raw).__name__}")
    return raw
