"""Typed readers for config values: each refuses a bad value with its file, line and key.

The bridge config and its sections (`mailin:`) read their strings, sizes and durations here,
so every section words the same fault the same way.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tocsin.bridge.platform.where import Where
from tocsin.common.durations import parse_duration
from tocsin.common.yamlsource import shown, shown_path

_SIZE = re.compile(r"^(\d+)\s*(B|KiB|MiB|GiB|KB|MB|GB)?$")
_SIZE_UNITS = {None: 1, "B": 1, "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3}
_SIZE_UNITS |= {"KB": 1000, "MB": 1000**2, "GB": 1000**3}


def read_secret(path: Path | None, where: Where) -> str:
    """Return the stripped content of a secret file; refuse a missing or empty one."""
    assert path is not None
    try:
        value = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise where.error(f"cannot read {shown_path(path)}: {exc.strerror}") from exc
    if not value:
        raise where.error(f"{shown_path(path)} is empty")
    return value


def text(raw: Any, where: Where) -> str:
    """Return a non-empty string, stripped."""
    if not isinstance(raw, str) or not raw.strip():
        raise where.error(f"expected a non-empty string, got {type(raw).__name__}")
    return raw.strip()


def optional_text(raw: Any, where: Where) -> str | None:
    """Return a non-empty string, or None when the key is absent or null."""
    return None if raw is None else text(raw, where)


def flag(raw: Any, where: Where) -> bool:
    """Return a YAML boolean; refuse 'yes' spelled as a string and every other type."""
    if not isinstance(raw, bool):
        raise where.error(f"{where.show(raw)} is not true or false")
    return raw


def choice(raw: Any, where: Where, choices: tuple[str, ...]) -> str:
    """Return one of `choices`."""
    if raw not in choices:
        raise where.error(f"{where.show(raw)} is not one of {', '.join(choices)}")
    return str(raw)


def path_value(raw: Any, base: Path) -> Path | None:
    """Return a path, relative ones taken from `base` (the config file's directory)."""
    if raw is None:
        return None
    path = Path(str(raw)).expanduser()
    return path if path.is_absolute() else base / path


def seconds(raw: Any, where: Where) -> float:
    """Return a duration ('30s', '5m', or a number of seconds) in seconds."""
    try:
        return parse_duration(raw, numbers=True)
    except ValueError as exc:
        raise where.error(str(exc)) from exc


def size(raw: Any, where: Where) -> int:
    """Return a size in bytes from a count or e.g. '1MiB', '512KiB'."""
    match = _SIZE.match(str(raw).strip()) if isinstance(raw, int | str) else None
    if isinstance(raw, bool) or match is None or int(match.group(1)) < 1:
        raise where.error(
            f"{where.show(raw)} is not a size; expected bytes or e.g. '1MiB', '512KiB'"
        )
    return int(match.group(1)) * _SIZE_UNITS[match.group(2)]


def port(raw: Any, where: Where) -> int:
    """Return a TCP port number, 1 to 65535."""
    if isinstance(raw, bool) or not isinstance(raw, int) or not 0 < raw < 65536:
        raise where.error(f"{shown(raw)} is not a port number")
    return raw


def host_port(raw: Any, where: Where, example: str) -> str:
    """Return 'HOST:PORT' (an IPv6 host in brackets)."""
    value = text(raw, where)
    if not re.fullmatch(r"(\[[0-9a-fA-F:]+\]|[^:\s]+):\d{1,5}", value) or (
        int(value.rsplit(":", 1)[1]) > 65535
    ):
        raise where.error(f"{where.show(value)} is not HOST:PORT; expected e.g. '{example}'")
    return value


def password(
    raw: Mapping[str, Any],
    where: Where,
    base: Path,
    env: Mapping[str, str],
    key: str = "password",
) -> str | None:
    """Return the secret a section gives as KEY_file, KEY_env or KEY (password_file, …)."""
    if raw.get(f"{key}_file") is not None:
        return read_secret(path_value(raw[f"{key}_file"], base), where.key(raw, f"{key}_file"))
    if raw.get(f"{key}_env") is not None:
        variable = text(raw[f"{key}_env"], where.key(raw, f"{key}_env"))
        if variable not in env:
            raise where.key(raw, f"{key}_env").error(
                f"environment variable {shown(variable)} is not set"
            )
        return env[variable]
    if raw.get(key) is not None:
        return str(raw[key])
    return None


def split_host_port(listen: str) -> tuple[str, int]:
    """Return the host (without IPv6 brackets) and port of a checked 'HOST:PORT'."""
    host, port_text = listen.rsplit(":", 1)
    return host.strip("[]"), int(port_text)
