"""YAML read with line numbers kept, so config errors can name the file, line and key."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from bridge.errors import ConfigError


class LineDict(dict[str, Any]):
    """A mapping from YAML that remembers the line of each key (1-based)."""

    line: int = 0
    key_lines: dict[str, int]


class _Loader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    out = LineDict()
    out.line = node.start_mark.line + 1
    out.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str):
            key = str(key)
        if key in out:
            raise yaml.constructor.ConstructorError(
                None, None, f"key {key!r} appears twice", key_node.start_mark
            )
        out[key] = loader.construct_object(value_node, deep=True)
        out.key_lines[key] = key_node.start_mark.line + 1
    return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_yaml(text: str, source: str) -> Any:
    """Parse YAML text; a syntax error becomes a ConfigError naming the source and line."""
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader derives from SafeLoader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"{source}:{mark.line + 1}" if mark else source
        raise ConfigError(f"{where}: invalid YAML: {exc.problem}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: invalid YAML: {exc}") from exc


def load_yaml_file(path: Path) -> Any:
    """Read and parse a YAML file; a missing or unreadable file is a ConfigError."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text") from exc
    return load_yaml(text, str(path))


class Where:
    """A position in a config source, for messages like 'policy.yml:12: routes[0].priority: …'."""

    def __init__(self, source: str, path: str = "", line: int | None = None) -> None:
        self.source = source
        self.path = path
        self.line = line

    def key(self, mapping: object, key: str | int) -> Where:
        """Return the position of one key of a mapping (or one index of a list) below this one."""
        line = self.line
        if isinstance(mapping, LineDict) and isinstance(key, str):
            line = mapping.key_lines.get(key, mapping.line)
        elif isinstance(mapping, list) and isinstance(key, int):
            item = mapping[key] if key < len(mapping) else None
            if isinstance(item, LineDict):
                line = item.line
        path = (
            f"{self.path}[{key}]"
            if isinstance(key, int)
            else (f"{self.path}.{key}" if self.path else key)
        )
        return Where(self.source, path, line)

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
                    f"unknown key {key!r}; expected one of {', '.join(allowed)}"
                )
    return raw


def as_list(raw: Any, where: Where) -> list[Any]:
    """Return a YAML list (empty for null), refusing other types."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise where.error(f"expected a list, got {type(raw).__name__}")
    return raw
