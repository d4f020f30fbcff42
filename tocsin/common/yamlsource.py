"""Read YAML keeping the line of every key, so config errors can say `file:line: key`.

Each program passes its own ConfigError as `error`, so a fault here surfaces exactly like any
other fault in its config.
"""

from __future__ import annotations

import reprlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

SHOWN_CHARS = 40
PATH_CHARS = 120  # a file path is worth quoting whole, up to a point
# Builds the caller's config error from one message naming the file (and line).
ErrorFactory = Callable[[str], Exception]


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
    if isinstance(value, (str, bytes)):
        text = repr(value[: limit + 1])
    else:
        text = _REPR.repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def shown_path(path: object) -> str:
    """Write a file path for a message as it is, unless it is absurdly long."""
    text = str(path)
    return text if len(text) <= PATH_CHARS else text[: PATH_CHARS - 1] + "…"


class LinedDict(dict[str, Any]):
    """A YAML mapping that remembers the line of itself and of each of its keys (1-based)."""

    line: int = 0
    key_lines: dict[str, int]

    def line_of(self, key: str) -> int:
        """Return the line of `key`, or of the mapping when the key is absent."""
        return self.key_lines.get(key, self.line)


class _NamesLoader(yaml.SafeLoader):
    """SafeLoader whose mappings are LinedDicts keyed by names: strings and numbers only."""

    any_scalar_key = False


class _ScalarsLoader(_NamesLoader):
    """As _NamesLoader, but any scalar key (true, null, a date) is read as its text."""

    any_scalar_key = True


def _is_name(key: object, any_scalar: bool) -> bool:
    if any_scalar:
        return not isinstance(key, (list, dict, set, tuple, bytes))
    return isinstance(key, (str, int, float)) and not isinstance(key, bool)


def _construct_mapping(loader: _NamesLoader, node: yaml.MappingNode) -> LinedDict:
    loader.flatten_mapping(node)
    mapping = LinedDict()
    mapping.line = node.start_mark.line + 1
    mapping.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not _is_name(key, loader.any_scalar_key):
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


_NamesLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_text(text: str, source: str, *, error: ErrorFactory, any_scalar_key: bool = False) -> Any:
    """Parse YAML text; a syntax error becomes `error` naming `source` and the line.

    Keys must be names (strings or numbers) unless `any_scalar_key`, which reads `true:` as 'True'.
    """
    loader = _ScalarsLoader if any_scalar_key else _NamesLoader
    try:
        return yaml.load(text, Loader=loader)  # noqa: S506 - both loaders are SafeLoaders
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f":{mark.line + 1}" if mark else ""
        raise error(f"{source}{line}: invalid YAML: {exc.problem or exc}") from exc
    except yaml.YAMLError as exc:
        raise error(f"{source}: invalid YAML: {exc}") from exc


def load_file(
    path: Path,
    *,
    error: ErrorFactory,
    any_scalar_key: bool = False,
    transform: Callable[[str], str] | None = None,
) -> Any:
    """Read and parse a YAML file; a missing or unreadable file becomes `error` naming it.

    `transform` rewrites the text before parsing (the agent's `${VAR}` substitution).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise error(f"{path}: file not found") from exc
    except OSError as exc:
        raise error(f"{path}: cannot read: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise error(f"{path}: not UTF-8 text") from exc
    if transform is not None:
        text = transform(text)
    return load_text(text, str(path), error=error, any_scalar_key=any_scalar_key)
