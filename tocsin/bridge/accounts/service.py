"""Sign people in and out: passwords checked against Argon2 hashes, throttled, sessions stored.

`Accounts` is what the API, the board and the CLI call; it owns the throttle and the sign-in
metric. Every refusal is logged at WARNING with the account name and address, never the secret.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from math import ceil

from prometheus_client import CollectorRegistry, Counter

from tocsin.bridge.accounts import credentials, people, sessions
from tocsin.bridge.accounts.credentials import ApiToken
from tocsin.bridge.accounts.passwords import Passwords, check_strength
from tocsin.bridge.accounts.people import Account
from tocsin.bridge.accounts.roles import DEFAULT_ROLE
from tocsin.bridge.accounts.sessions import SessionRow
from tocsin.bridge.accounts.throttle import ACCOUNT_FREE, ADDRESS_FREE, Throttle
from tocsin.bridge.errors import AuthError, ConfigError, InvalidInput, NotFound, Throttled
from tocsin.bridge.platform.clock import Clock
from tocsin.bridge.policy.model import Policy
from tocsin.bridge.store.db import Store

log = logging.getLogger(__name__)
SESSION_LIFETIME = timedelta(hours=12)
INVITE_LIFETIME = timedelta(days=3)
SIGN_IN_OUTCOMES = ("ok", "failed", "throttled")


def sign_in_counter(registry: CollectorRegistry) -> Counter:
    """Return the sign-in counter on `registry`, its outcomes present from the start."""
    counter = Counter(
        "tocsin_bridge_sign_ins",
        "Sign-in attempts on the board, by method (password, token, oidc) and outcome "
        "(ok, failed, throttled).",
        ["method", "outcome"],
        registry=registry,
    )
    for method in sessions.METHODS:
        for outcome in SIGN_IN_OUTCOMES:
            counter.labels(method=method, outcome=outcome)
    return counter


@dataclass
class Accounts:
    """People's sign-in, sessions, passwords, invites and API tokens over one store."""

    store: Store
    policy: Callable[[], Policy]
    clock: Clock
    counter: Counter
    secret: bytes | None = field(repr=False)
    passwords: Passwords = field(default_factory=Passwords)
    throttle: Throttle = field(default_factory=Throttle)
    session_lifetime: timedelta = SESSION_LIFETIME

    def find(self, name: str) -> Account | None:
        """Return the account called `name`, None when nobody is."""
        with self.store.connect() as conn:
            return people.find(conn, self.policy(), name)

    def everyone(self) -> list[Account]:
        """Return every account, by name."""
        with self.store.connect() as conn:
            return people.everyone(conn, self.policy())

    def role_of(self, name: str) -> str | None:
        """Return the role `name` acts with now, None when unknown or disabled."""
        account = self.find(name)
        return None if account is None or account.disabled else account.role

    def guard(self, method: str, name: str | None, address: str | None) -> None:
        """Refuse (429) an attempt while its account or address is backing off."""
        wait = self.throttle.wait(self._keys(name, address), self.clock())
        if wait.total_seconds() > 0:
            self.counter.labels(method=method, outcome="throttled").inc()
            log.warning(
                "sign-in by %s refused for %r from %s: too many failures, retry in %ds",
                method,
                (name or "")[:100],
                address,
                ceil(wait.total_seconds()),
            )
            raise Throttled("too many failed sign-ins; try again later", ceil(wait.total_seconds()))

    def failed(self, method: str, name: str | None, address: str | None, why: str) -> None:
        """Count and log a failed attempt (never its secret)."""
        count = self.throttle.failed(list(self._keys(name, address)), self.clock())
        self.counter.labels(method=method, outcome="failed").inc()
        log.warning(
            "sign-in by %s failed for %r from %s: %s (failure %d)",
            method,
            (name or "")[:100],
            address,
            why,
            count,
        )

    def succeeded(self, method: str, name: str) -> None:
        """Count a successful sign-in and clear the account's failures."""
        self.counter.labels(method=method, outcome="ok").inc()
        self.throttle.succeeded(f"account:{name}")

    def sign_in(self, name: str, password: str, address: str | None) -> str:
        """Check a password and open a session; AuthError (401) or Throttled (429) otherwise."""
        account = self.check_password(name, password, address)
        return self.open_session(account.name, "password", address)

    def check_password(self, name: str, password: str, address: str | None) -> Account:
        """Return the account if `password` is its own; throttled and counted like a sign-in."""
        self.guard("password", name, address)
        with self.store.connect() as conn:
            account = people.find(conn, self.policy(), name[:100])
            encoded = people.password_hash(conn, name[:100]) if account else None
        ok = self.passwords.verify(encoded, password)
        if not ok or account is None or account.disabled:
            self.failed("password", name, address, "wrong name or password")
            raise AuthError("wrong name or password")
        self.succeeded("password", account.name)
        if encoded is not None and self.passwords.needs_rehash(encoded):
            self._store_hash(account.name, self.passwords.hash(password))
        return account

    def sso_sign_in(
        self, claimed: str, role: str | None, add_people: bool, address: str | None
    ) -> str:
        """Open a session for the person a verified provider token names (by name or email)."""
        account = self.find(claimed[:100]) or self._by_email(claimed)
        if account is None and add_people:
            account = self.add(people.check_name(claimed), None, role or DEFAULT_ROLE)
        if account is None or account.disabled:
            self.failed("oidc", claimed, address, "not a person of this bridge, or disabled")
            raise AuthError(f"{claimed[:100]!r} is not a person of this bridge")
        if role is not None and role != account.role:
            self.set_role(account.name, role)
        self.succeeded("oidc", account.name)
        return self.open_session(account.name, "oidc", address)

    def _by_email(self, email: str) -> Account | None:
        found = [p.name for p in self.policy().people.values() if p.email and p.email == email]
        return self.find(found[0]) if len(found) == 1 else None

    def open_session(self, name: str, method: str, address: str | None) -> str:
        """Start a session for someone already identified; return the cookie's id."""
        with self.store.begin() as conn:
            return sessions.start(conn, name, method, self.clock(), self.session_lifetime, address)

    def session(self, raw: str) -> SessionRow | None:
        """Return the live session a cookie's id names."""
        with self.store.connect() as conn:
            return sessions.live(conn, raw, self.clock())

    def sessions_of(self, name: str) -> list[SessionRow]:
        """Return the live sessions of `name`."""
        with self.store.connect() as conn:
            return sessions.active(conn, name, self.clock())

    def sign_out(self, raw: str) -> None:
        """End one session."""
        with self.store.begin() as conn:
            sessions.end(conn, raw, self.clock())

    def sign_out_everywhere(self, name: str) -> int:
        """End every session of `name`; return how many there were."""
        with self.store.begin() as conn:
            return sessions.end_all(conn, name, self.clock())

    def set_password(self, name: str, password: str) -> None:
        """Set a person's password (checked for strength) and end their sessions."""
        check_strength(password, name)
        if self.find(name) is None:
            raise NotFound(f"no person {name!r}: add them first, or define them in the policy")
        self._store_hash(name, self.passwords.hash(password))
        self.sign_out_everywhere(name)

    def _store_hash(self, name: str, encoded: str) -> None:
        with self.store.begin() as conn:
            people.set_fields(conn, self.policy(), name, self.clock(), password_hash=encoded)

    def add(self, name: str, full_name: str | None, role: str) -> Account:
        """Add a person (or store a role for a policy person)."""
        with self.store.begin() as conn:
            people.add(conn, self.policy(), name, full_name, role, self.clock())
            account = people.find(conn, self.policy(), name)
        assert account is not None
        return account

    def set_role(self, name: str, role: str) -> None:
        """Give a known person a role, overriding the policy's."""
        people.check_role(role)
        with self.store.begin() as conn:
            people.set_fields(conn, self.policy(), name, self.clock(), role=role)

    def set_disabled(self, name: str, disabled: bool) -> None:
        """Disable (or enable) a person's sign-in; disabling ends their sessions."""
        with self.store.begin() as conn:
            people.set_fields(conn, self.policy(), name, self.clock(), disabled=disabled)
        if disabled:
            self.sign_out_everywhere(name)

    def invite(self, name: str, by: str | None, ttl: timedelta = INVITE_LIFETIME) -> str:
        """Return a one-time invite code for a known person to set their password."""
        if self.find(name) is None:
            raise NotFound(f"no person {name!r}: add them first, or define them in the policy")
        with self.store.begin() as conn:
            return credentials.create_invite(conn, name, by, self.clock(), ttl, self._secret())

    def invitee(self, code: str) -> str | None:
        """Return the person a valid, unused invite code is for."""
        with self.store.connect() as conn:
            found = credentials.invited(conn, code, self.clock(), self._secret())
        return None if found is None else found[1]

    def redeem(self, code: str, password: str) -> str:
        """Set the password an invite is for and spend the invite; return the person."""
        with self.store.connect() as conn:
            found = credentials.invited(conn, code, self.clock(), self._secret())
        if found is None:
            raise InvalidInput("this invite link is unknown, used or expired", field="invite")
        invite_id, name = found
        check_strength(password, name)
        with self.store.begin() as conn:
            if not credentials.spend_invite(conn, invite_id, self.clock()):
                raise InvalidInput("this invite link is unknown, used or expired", field="invite")
            encoded = self.passwords.hash(password)
            people.set_fields(conn, self.policy(), name, self.clock(), password_hash=encoded)
            sessions.end_all(conn, name, self.clock())
        return name

    def create_token(self, name: str, label: str, by: str | None) -> tuple[str, ApiToken]:
        """Create an API token acting as `name`; return it (shown this once) and its record."""
        if self.find(name) is None:
            raise NotFound(f"no person {name!r}: add them first, or define them in the policy")
        with self.store.begin() as conn:
            raw, token_id = credentials.create_token(conn, name, label, by, self.clock())
        return raw, self.token(token_id)

    def tokens(self, name: str | None) -> list[ApiToken]:
        """Return the API tokens of `name` (None: everyone's), revoked ones too."""
        with self.store.connect() as conn:
            return credentials.tokens_of(conn, name)

    def token(self, token_id: int) -> ApiToken:
        """Return one API token by id, NotFound if there is none."""
        with self.store.connect() as conn:
            found = credentials.token_by_id(conn, token_id)
        if found is None:
            raise NotFound(f"no API token {token_id}")
        return found

    def revoke_token(self, token_id: int) -> ApiToken:
        """Revoke an API token (revoking one twice is no error) and return it."""
        with self.store.begin() as conn:
            credentials.revoke_token(conn, token_id, self.clock())
        return self.token(token_id)

    def token_person(self, raw: str) -> str | None:
        """Return the person a live per-person API token acts as."""
        if not raw.startswith(credentials.API_PREFIX):
            return None
        with self.store.begin() as conn:
            return credentials.use_token(conn, raw, self.clock())

    def _secret(self) -> bytes:
        if self.secret is None:
            raise ConfigError("secret_key is not set: invite links cannot be signed")
        return self.secret

    @staticmethod
    def _keys(name: str | None, address: str | None) -> dict[str, int]:
        keys: dict[str, int] = {}
        if name:
            keys[f"account:{name[:100]}"] = ACCOUNT_FREE
        if address:
            keys[f"address:{address}"] = ADDRESS_FREE
        return keys
