"""`${VAR}` and `${VAR:-default}` in config files, so one file serves a fleet of hosts.

Substitution happens on the text before YAML is read, line by line, so a fault names the
file and line. `$${` writes a literal `${`. A value is never shown in a message: it may be a
secret.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from tocsin.agent.errors import ConfigError

_REFERENCE = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def substitute(text: str, source: str, env: Mapping[str, str]) -> str:
    """Return `text` with every reference replaced; an unset one without default is an error."""
    if "${" not in text:
        return text
    lines = text.splitlines(keepends=True)
    for number, line in enumerate(lines, start=1):
        if "${" not in line:
            continue

        def value(match: re.Match[str], number: int = number) -> str:
            name, default = match.group(1), match.group(2)
            if name is None:
                return "${"
            found = env.get(name)
            if default is not None and not found:
                return default
            if found is None:
                raise ConfigError(
                    f"{source}:{number}: ${{{name}}} is not set in the environment; "
                    f"set it, or give a default as ${{{name}:-default}}"
                )
            return found

        lines[number - 1] = _REFERENCE.sub(value, line)
    return "".join(lines)
