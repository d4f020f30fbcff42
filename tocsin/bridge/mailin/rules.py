"""Sort a mail by its sender's domain and subject into a priority and a team, free of I/O."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tocsin.bridge.errors import ConfigError
from tocsin.bridge.platform.mailin_settings import MailinSettings, MailRule
from tocsin.bridge.policy.model import Policy


@dataclass(frozen=True)
class Sorting:
    """The priority and team a mail's incident gets (team None: the policy's route decides)."""

    priority: str
    team: str | None


def domain_matches(domain: str, wanted: str) -> bool:
    """Tell whether a sender domain is `wanted` or one of its subdomains."""
    return domain == wanted or domain.endswith("." + wanted)


def rule_matches(rule: MailRule, domain: str, subject: str) -> bool:
    """Tell whether a rule applies: every condition it names holds."""
    if rule.sender_domains and not any(domain_matches(domain, d) for d in rule.sender_domains):
        return False
    return rule.subject is None or rule.subject.search(subject) is not None


def sort_mail(settings: MailinSettings, domain: str, subject: str) -> Sorting:
    """Return the priority and team: for each, the first matching rule that sets it wins."""
    matching = [rule for rule in settings.rules if rule_matches(rule, domain.lower(), subject)]
    priority = next((r.priority for r in matching if r.priority), settings.priority)
    team = next((r.team for r in matching if r.team), settings.team)
    return Sorting(priority, team)


def check_against(settings: MailinSettings, policy: Policy) -> list[str]:
    """Return the faults of mail sorting against the policy: priorities or teams it lacks."""
    faults: list[str] = []
    if settings.priority not in policy.priorities:
        faults.append(_unknown(settings.place, "mailin.priority", settings.priority, policy))
    if settings.team is not None and settings.team not in policy.teams:
        faults.append(_unknown_team(settings.place, "mailin.team", settings.team, policy))
    rules: Sequence[MailRule] = settings.rules
    for index, rule in enumerate(rules):
        if rule.priority is not None and rule.priority not in policy.priorities:
            faults.append(
                _unknown(rule.place, f"mailin.rules[{index}].priority", rule.priority, policy)
            )
        if rule.team is not None and rule.team not in policy.teams:
            faults.append(
                _unknown_team(rule.place, f"mailin.rules[{index}].team", rule.team, policy)
            )
    return faults


def require_valid(settings: MailinSettings, policy: Policy) -> None:
    """Refuse to start when mail would be sorted into a priority or team the policy lacks."""
    faults = check_against(settings, policy)
    if faults:
        raise ConfigError("; ".join(faults))


def _unknown(place: str, key: str, priority: str, policy: Policy) -> str:
    return (
        f"{place}: {key}: {priority!r} is not a priority of {policy.source};"
        f" expected one of {', '.join(policy.priorities)}"
    )


def _unknown_team(place: str, key: str, team: str, policy: Policy) -> str:
    known = ", ".join(policy.teams) or "none"
    return f"{place}: {key}: {team!r} is not a team of {policy.source}; its teams: {known}"


def describe(settings: MailinSettings) -> str:
    """Return one line saying where mail comes in and how it is sorted (no secrets)."""
    ways = []
    if settings.smtp is not None:
        ways.append(f"{settings.smtp.protocol} on {settings.smtp.listen}")
    if settings.imap is not None:
        imap = settings.imap
        ways.append(f"imap {imap.username}@{imap.host}:{imap.port} ({imap.security}) {imap.folder}")
    return (
        f"{', '.join(ways)}; {len(settings.rules)} rules, default {settings.priority},"
        f" up to {settings.max_bytes} bytes"
    )
