"""`include:` in the agent's config: conf.d/*.yml files merged over the main file, in order.

Precedence: the main file first, then each `include` pattern in the order written, each
pattern's files in name order (10-base.yml before 20-web.yml). A later file's value replaces an
earlier one key by key; mappings (labels, push, filesystems, ...) merge key by key, and `rules`
lists are concatenated (a rule defined twice needs `override: true`, see rules.merge_rules).
An included file may not include others. Every key remembers its file, so a fault names the
file and line it was written in.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tocsin.agent.envsubst import substitute
from tocsin.agent.errors import ConfigError
from tocsin.common.yamlsource import LinedDict, load_file, shown


class Merged(LinedDict):
    """A mapping read from several files: each key's file, and each rule's file and position."""

    def __init__(self) -> None:
        super().__init__()
        self.key_lines: dict[str, int] = {}
        self.key_sources: dict[str, str] = {}
        # Per item of `rules`: (file, position in that file's list, directory files resolve in).
        self.rule_origins: list[tuple[str, int, Path]] = []


def _read(path: Path, env: Mapping[str, str]) -> Any:
    return load_file(
        path, error=ConfigError, transform=lambda text: substitute(text, str(path), env)
    )


def _copy(node: LinedDict, source: str) -> Merged:
    merged = Merged()
    _merge(merged, node, source, Path(source).parent)
    return merged


def _merge(into: Merged, node: LinedDict, source: str, directory: Path) -> None:
    for key, value in node.items():
        earlier = into.get(key)
        if isinstance(value, LinedDict) and isinstance(earlier, Merged):
            _merge(earlier, value, source, directory)
            continue
        if key == "rules" and isinstance(value, list):
            kept = earlier if isinstance(earlier, list) else []
            origins = into.rule_origins[: len(kept)]
            into.rule_origins = origins + [(source, i + 1, directory) for i in range(len(value))]
            value = [*kept, *value]
        elif isinstance(value, LinedDict):
            value = _copy(value, source)
        into[key] = value
        into.key_lines[key] = node.line_of(key)
        into.key_sources[key] = source


def _patterns(document: LinedDict, source: str) -> list[str]:
    raw = document.get("include")
    patterns = [raw] if isinstance(raw, str) else raw
    if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
        raise ConfigError(
            f"{source}:{document.line_of('include')}: 'include' is {shown(raw)}; "
            "expected a file pattern or a list of them, e.g. 'conf.d/*.yml'"
        )
    return patterns


def read_with_includes(path: Path, env: Mapping[str, str]) -> Any:
    """Read the main config file and merge the files its `include` names over it."""
    document = _read(path, env)
    if not isinstance(document, LinedDict) or "include" not in document:
        return document
    merged = _copy(document, str(path))
    for pattern in _patterns(document, str(path)):
        for included in sorted(path.parent.glob(pattern)):
            extra = _read(included, env)
            if extra is None:
                continue
            if not isinstance(extra, LinedDict):
                raise ConfigError(f"{included}: expected a mapping of settings such as 'labels:'")
            if "include" in extra:
                raise ConfigError(
                    f"{included}:{extra.line_of('include')}: 'include' is only read in the "
                    f"main config file ({path}); list every pattern there"
                )
            _merge(merged, extra, str(included), included.parent)
    del merged["include"]
    return merged
