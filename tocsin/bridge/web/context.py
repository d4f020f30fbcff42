"""What the web pages need from the rest of the bridge, gathered once from the runtime.

The pages read incidents straight from the store (the board's order and filters are its own)
and change them only through the incident service, so every change is the same timeline event,
with the same hooks, as through the API.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from fastapi import FastAPI, Request
from starlette.routing import NoMatchFound

from tocsin.bridge.accounts import roles
from tocsin.bridge.accounts.oidc import OidcClient
from tocsin.bridge.accounts.service import Accounts
from tocsin.bridge.api.auth import identify
from tocsin.bridge.errors import ConfigError
from tocsin.bridge.incidents.service import IncidentService
from tocsin.bridge.maintenance.service import Desk
from tocsin.bridge.platform.clock import Clock
from tocsin.bridge.platform.config import Token
from tocsin.bridge.policy.model import Calendar, Policy
from tocsin.bridge.runtime import Runtime
from tocsin.bridge.store.db import Store
from tocsin.bridge.web.session import Session, token_tag

REPORTS_PATH = "/reports"
REPORTS_ROUTE = "reports_page"  # the name bridge/web/reports_page.py gives its route


@dataclass(frozen=True)
class WebContext:
    """The store, clock, signing key, operator tokens, incident service and calendars the pages use."""

    store: Store
    clock: Clock
    service: IncidentService
    secret_key: bytes = field(repr=False)
    public_url: str
    priorities: tuple[str, ...]
    tokens: tuple[Token, ...] = field(repr=False)
    accounts: Accounts
    reports_url: str | None = None
    calendars: Mapping[str, Calendar] = field(default_factory=dict)
    policy: Callable[[], Policy] | None = None  # the runtime's current policy
    maintenance: Desk | None = None  # maintenance windows, when the runtime has them
    sso: OidcClient | None = None  # the OpenID Connect provider, when one is configured

    @property
    def sso_enabled(self) -> bool:
        return self.sso is not None

    def assignees(self) -> tuple[list[str], list[str]]:
        """Return the people and the teams an incident may be assigned to, for pickers."""
        policy = self.policy() if self.policy is not None else None
        if policy is None:
            return [], []
        return sorted(policy.people), sorted(policy.teams)

    def display_name(self, name: str) -> str:
        """Return a person's full name (the policy's, else the one an admin gave), else the name."""
        policy = self.policy() if self.policy is not None else None
        person = policy.people.get(name) if policy is not None else None
        if person is not None:
            return person.full_name
        account = self.accounts.find(name)
        return account.full_name if account is not None else name

    def operator_for(self, presented: str) -> str | None:
        """Return the name of the shared token presented; ingest tokens open no session."""
        token = identify(self.tokens, presented.strip())
        return token.name if token is not None and token.role != roles.INGEST else None

    def _token(self, name: str) -> Token | None:
        for token in self.tokens:
            if token.name == name and token.role != roles.INGEST:
                return token
        return None

    def token_tag_for(self, operator: str) -> str | None:
        """Return the session binding of a shared token's current value, None if it is gone."""
        token = self._token(operator)
        return None if token is None else token_tag(token.sha256, self.secret_key)

    def session_role(self, session: Session) -> str | None:
        """Return the role a signed-in session acts with, None if its row or token is gone."""
        if session.operator is None or session.sid is None:
            return None
        row = self.accounts.session(session.sid)
        if row is None or row.name != session.operator:
            return None
        if row.method == "token":
            token = self._token(row.name)
            if token is None or self.token_tag_for(row.name) != session.token_tag:
                return None  # the token was removed or rotated since sign-in
            return roles.token_role(token.role)
        return self.accounts.role_of(row.name)


def context_from_runtime(runtime: Runtime, app: FastAPI) -> WebContext:
    """Gather the web pages' needs from the runtime; the config must carry a secret key."""
    config = runtime.config
    if config.secret_key is None:
        raise ConfigError(
            f"{config.source}: secret_key is not set; set secret_key or secret_key_file, "
            "or let `tocsin-bridge serve` generate one"
        )
    # By route name: FastAPI may wrap included routers, hiding their routes from app.routes.
    try:
        has_reports = app.url_path_for(REPORTS_ROUTE) == REPORTS_PATH
    except NoMatchFound:
        has_reports = False
    return WebContext(
        store=runtime.store,
        clock=runtime.clock,
        service=runtime.incidents,
        secret_key=config.secret_key,
        public_url=config.base_url,
        priorities=tuple(runtime.policy.priorities),
        tokens=config.tokens,
        reports_url=REPORTS_PATH if has_reports else None,
        calendars=runtime.policy.calendars,
        policy=lambda: runtime.policy,
        maintenance=runtime.maintenance,
        accounts=runtime.accounts,
        sso=OidcClient(config.sso, f"{config.base_url}/sso/callback") if config.sso else None,
    )


def web_context(request: Request) -> WebContext:
    """Dependency: the web context of this app, built on first use from its runtime."""
    state = request.app.state
    context: WebContext | None = getattr(state, "web_context", None)
    if context is None:
        context = context_from_runtime(state.runtime, request.app)
        state.web_context = context
    return context
