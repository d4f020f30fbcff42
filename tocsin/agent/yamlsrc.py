"""Read YAML keeping the line of every key, so config errors can say `file:line: key`."""

from __future__ import annotations

import reprlib
from pathlib import Path
from typing import Any

import yaml

from tocsin.agent.errors import ConfigError

SHOWN_CHARS = 40
PATH_CHARS = 120  # a file path is worth quoting whole, up to a point


class _ShortRepr(reprlib.Repr):
    """reprlib that also cuts short dict subclasses such as LinedDict, not only plain dicts."""

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


class LinedDict(dict[str, Any]):
    """A YAML mapping that remembers the line of itself and of each of its keys."""

    line: int = 0
    key_lines: dict[str, int]

    def line_of(self, key: str) -> int:
        """Return the 1-based line of `key`, or of the mapping when the key is absent."""
        return self.key_lines.get(key, self.line)


class _Loader(yaml.SafeLoader):
    """SafeLoader whose mappings are LinedDicts."""


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> LinedDict:
    loader.flatten_mapping(node)
    mapping = LinedDict()
    mapping.line = node.start_mark.line + 1
    mapping.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str | int | float | bool) or isinstance(key, bool):
            raise yaml.constructor.ConstructorError(
                None, None, f"mapping key {shown(key)} is not a name", key_node.start_mark
            )
        key = str(key)
        if key in mapping:
            raise yaml.constructor.ConstructorError(
                None, None, f"key {shown(key)} appears twice", key_node.start_mark
            )
        mapping[key] = loader.construct_object(value_node, deep=True)
        mapping.key_lines[key] = key_node.start_mark.line + 1
    return mapping


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_text(text: str, source: str) -> Any:
    """Parse YAML text; a syntax error becomes a ConfigError naming `source` and the line."""
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f":{mark.line + 1}" if mark else ""
        raise ConfigError(f"{source}{line}: invalid YAML: {exc.problem or exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: invalid YAML: {exc}") from exc


def load_file(path: Path) -> Any:
    """Read and parse a YAML file; an unreadable file becomes a ConfigError naming it."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: file not found") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc
    return load_text(text, str(path))
