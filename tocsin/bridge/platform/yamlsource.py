"""YAML read with line numbers kept, so config errors can name the file, line and key."""

from __future__ import annotations

import reprlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from tocsin.bridge.errors import ConfigError

SHOWN_CHARS = 40
PATH_CHARS = 120  # a file path is worth quoting whole, up to a point
# Keys whose values are credentials (or URLs that carry them): messages never quote them.
SECRET_KEYS = frozenset(
    {"value", "password", "secret", "secret_key", "token", "url", "database_url"}
)
HIDDEN = "the value (not shown: this key holds a secret)"


class _ShortRepr(reprlib.Repr):
    """reprlib that also cuts short dict subclasses such as LineDict, not only plain dicts."""

    def repr1(self, x: Any, level: int) -> str:
        if isinstance(x, dict) and type(x) is not dict:
            return self.repr_dict(x, level)
        return super().repr1(x, level)


_REPR = _ShortRepr()
_REPR.maxlevel, _REPR.maxdict, _REPR.maxlist, _REPR.maxtuple, _REPR.maxset = 2, 4, 4, 4, 4
_REPR.maxstring = _REPR.maxother = SHOWN_CHARS + 10


def shown(value: object, limit: int = SHOWN_CHARS) -> str:
    """Quote a bad value for a message in at most `limit` characters, ending '…' when cut.

    Bounded work too: an alias bomb expanding to megabytes is never rendered whole.
    """
    if isinstance(value, str | bytes):
        text = repr(value[: limit + 1])
    else:
        text = _REPR.repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def shown_path(path: object) -> str:
    """Write a file path for a message as it is, unless it is absurdly long."""
    text = str(path)
    return text if len(text) <= PATH_CHARS else text[: PATH_CHARS - 1] + "…"


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
        if isinstance(key, list | dict | set | tuple | bytes):
            raise yaml.constructor.ConstructorError(
                None, None, f"mapping key {shown(key)} is not a name", key_node.start_mark
            )
        if not isinstance(key, str):
            key = str(key)
        if key in out:
            raise yaml.constructor.ConstructorError(
                None, None, f"key {shown(key)} appears twice", key_node.start_mark
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
