"""The policy: priorities and their clocks, calendars, routes, channels, escalation and on-call.

Owns the policy model, its loader (policy.yml, calendars) and the country holiday data a
calendar names (country, from the `holidays` package). May import platform only.
"""

from tocsin.bridge.policy.load import load_policy, parse_policy
from tocsin.bridge.policy.model import (
    Calendar,
    Channel,
    EscalationPolicy,
    EscalationStep,
    HeartbeatPolicy,
    Person,
    Policy,
    PriorityPolicy,
    Route,
    Schedule,
    Target,
    Team,
)

__all__ = [
    "Calendar",
    "Channel",
    "EscalationPolicy",
    "EscalationStep",
    "HeartbeatPolicy",
    "Person",
    "Policy",
    "PriorityPolicy",
    "Route",
    "Schedule",
    "Target",
    "Team",
    "load_policy",
    "parse_policy",
]
