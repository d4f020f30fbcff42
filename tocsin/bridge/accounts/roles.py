"""Who may do what: the five roles of people, the permissions each holds, and shared tokens' roles.

Every route names one permission; a role holds a fixed set of them. Decisions only, no I/O.
"""

from __future__ import annotations

from tocsin.bridge.errors import Forbidden
from tocsin.bridge.platform.config import PERSON_ROLES

ROLES = PERSON_ROLES
DEFAULT_ROLE = "responder"  # a policy person without `role:` is on call: they act on incidents
OPERATOR_ROLE = "manager"  # a shared operator token does what it did before roles existed
INGEST = "ingest"  # senders' tokens: alerts and heartbeats only, never a person's permission

# permission -> the roles holding it, lowest first (the first is the "needed role" in a refusal)
PERMISSIONS: dict[str, tuple[str, ...]] = {
    "read": ROLES,
    "respond": ("responder", "manager", "admin"),
    "communicate": ("responder", "service_desk", "manager", "admin"),
    "register": ("service_desk", "manager", "admin"),
    "close": ("service_desk", "manager", "admin"),
    "manage": ("manager", "admin"),
    "administer": ("admin",),
}

# What a refusal says the permission is for, to finish "… may not …".
PURPOSE = {
    "read": "read incidents",
    "respond": "act on incidents",
    "communicate": "add notes or talk to the reporter",
    "register": "register incidents",
    "close": "close incidents",
    "manage": "see reports, exempt or reassign anyone's incidents",
    "administer": "manage people, tokens and settings",
}


def allows(role: str | None, permission: str) -> bool:
    """Return whether `role` holds `permission` (unknown roles and permissions hold nothing)."""
    return role is not None and role in PERMISSIONS.get(permission, ())


def needed_role(permission: str) -> str:
    """Return the lowest role holding `permission`, the one a refusal names."""
    return PERMISSIONS[permission][0]


def refusal(role: str | None, permission: str) -> Forbidden:
    """Return the 403 for `role` asking for `permission`, naming the role needed."""
    holders = PERMISSIONS[permission]
    who = f"the {role} role" if role else "this caller"
    others = f" (or {', '.join(holders[1:])})" if len(holders) > 1 else ""
    return Forbidden(
        f"{who} may not {PURPOSE[permission]}; the {holders[0]} role{others} is needed",
        needed_role=holders[0],
    )


def check(role: str | None, permission: str) -> None:
    """Raise Forbidden unless `role` holds `permission`."""
    if not allows(role, permission):
        raise refusal(role, permission)


def token_role(configured: str) -> str:
    """Return the role a shared token acts with: `operator` keeps today's powers (manager)."""
    return OPERATOR_ROLE if configured == "operator" else configured


def check_reassign(role: str | None, name: str, current: str | None, target: str) -> None:
    """Let a responder take an incident or hand on one that is theirs or nobody's; managers any."""
    if allows(role, "manage") or target == name or current in (None, name):
        return
    raise Forbidden(
        f"the {role} role may only take an incident or hand on its own; {current!r} holds this "
        "one, so the manager role (or admin) is needed",
        needed_role="manager",
    )
