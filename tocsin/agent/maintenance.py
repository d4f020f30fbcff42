"""Announce planned work to the bridge: a maintenance window on this host, or none.

At shutdown the agent's helper unit asks for a short window, so a planned reboot pages nobody
while a host that stays down past the window does. `systemctl is-system-running` tells a
shutdown ("stopping") from a person stopping the unit by hand.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable

from tocsin.agent.config import AgentConfig
from tocsin.agent.errors import ConfigError
from tocsin.agent.push import Receiver


def system_state() -> str:
    """Return systemd's manager state (running, stopping, ...), or 'unknown' without systemd."""
    try:
        result = subprocess.run(
            ["systemctl", "is-system-running"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return result.stdout.strip() or "unknown"


def announce(
    config: AgentConfig,
    seconds: float,
    reason: str,
    only_at_shutdown: bool = False,
    state: Callable[[], str] = system_state,
) -> str:
    """Open a window for this host on the bridge; return what to tell the person."""
    if only_at_shutdown and state() != "stopping":
        return "the system is not shutting down: no maintenance window announced"
    if config.push is None:
        raise ConfigError(f"{config.source}: no 'push' receiver: maintenance windows need a bridge")
    receiver = Receiver.for_config(config.push)
    try:
        window = receiver.open_maintenance(config.instance, seconds, reason)
    finally:
        receiver.close()
    return (
        f"maintenance window {window.get('id')} on {receiver.display} for instance={config.instance} "
        f"until {window.get('ends_at')}: new alerts from this host page nobody until then"
    )
