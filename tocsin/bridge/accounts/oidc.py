"""Single sign-on through OpenID Connect: authorization code with PKCE (Authlib), ID token verified.

The provider's discovery document and signing keys are read once and kept (the keys again when a
token names one not yet seen). The ID token is checked for signature, issuer, audience, expiry
and the nonce this sign-in sent; the configured claim names the person, another may give a role.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2 import OAuth2Error
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from tocsin.bridge.accounts.roles import ROLES
from tocsin.bridge.errors import AuthError
from tocsin.bridge.platform.sso_settings import SsoSettings

log = logging.getLogger(__name__)
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA")
LEEWAY_SECONDS = 60  # clocks of the bridge and the provider may differ this much


class SsoFailed(AuthError):
    """The provider did not vouch for anyone: unreachable, refused, or its answer did not verify."""


@dataclass(frozen=True)
class Pending:
    """What the browser carries (signed) from the start of a sign-in to the provider's answer."""

    state: str
    nonce: str
    verifier: str
    next_path: str


def person_and_role(claims: Mapping[str, Any], settings: SsoSettings) -> tuple[str, str | None]:
    """Return the person a verified token names and the highest role its role claim maps to."""
    person = claims.get(settings.person_claim)
    if not isinstance(person, str) or not person.strip():
        raise SsoFailed(f"the provider's token has no {settings.person_claim!r} claim")
    role = None
    if settings.role_claim is not None:
        values = claims.get(settings.role_claim)
        listed = [values] if isinstance(values, str) else values if isinstance(values, list) else []
        mapped = [settings.roles[v] for v in listed if isinstance(v, str) and v in settings.roles]
        role = max(mapped, key=ROLES.index) if mapped else None
    return person.strip(), role


class OidcClient:
    """Talk to one OpenID Connect provider for the bridge: start a sign-in, finish it."""

    def __init__(
        self,
        settings: SsoSettings,
        redirect_uri: str,
        wall: Callable[[], float] = time.time,
        http: requests.Session | None = None,
    ) -> None:
        self.settings = settings
        self.redirect_uri = redirect_uri
        self.wall = wall  # the provider's tokens carry real times: judged by the real clock
        self.http = http or requests.Session()
        self._metadata: dict[str, Any] | None = None
        self._keys: KeySet | None = None

    def _get(self, url: str) -> dict[str, Any]:
        try:
            response = self.http.get(url, timeout=self.settings.timeout)
            response.raise_for_status()
            body = response.json()
        except (requests.RequestException, ValueError) as exc:
            raise SsoFailed(f"cannot read {url}: {type(exc).__name__}") from exc
        if not isinstance(body, dict):
            raise SsoFailed(f"{url} did not answer a JSON object")
        return body

    def metadata(self) -> dict[str, Any]:
        """Return the provider's discovery document, read once."""
        if self._metadata is None:
            found = self._get(f"{self.settings.issuer}/.well-known/openid-configuration")
            if str(found.get("issuer", "")).rstrip("/") != self.settings.issuer:
                raise SsoFailed(
                    f"the provider calls itself {found.get('issuer')!r}, not the issuer"
                )
            for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
                if not isinstance(found.get(key), str):
                    raise SsoFailed(f"the provider's discovery document has no {key}")
            self._metadata = found
        return self._metadata

    def _session(self) -> OAuth2Session:
        return OAuth2Session(
            self.settings.client_id,
            self.settings.client_secret,
            scope=" ".join(self.settings.scopes),
            redirect_uri=self.redirect_uri,
            code_challenge_method="S256",
            token_endpoint_auth_method=(
                "client_secret_basic" if self.settings.client_secret else "none"
            ),
        )

    def start(self, next_path: str) -> tuple[str, Pending]:
        """Return the provider URL to send the browser to, and what it must bring back."""
        pending = Pending(
            state=secrets.token_urlsafe(24),
            nonce=secrets.token_urlsafe(24),
            verifier=secrets.token_urlsafe(48),
            next_path=next_path,
        )
        with self._session() as session:
            url, _ = session.create_authorization_url(
                self.metadata()["authorization_endpoint"],
                state=pending.state,
                code_verifier=pending.verifier,
                nonce=pending.nonce,
            )
        return str(url), pending

    def finish(self, pending: Pending, code: str, state: str) -> dict[str, Any]:
        """Trade the code (with the PKCE verifier) for tokens; return the verified ID token's claims."""
        if not secrets.compare_digest(state, pending.state):
            raise SsoFailed("the answer does not belong to this sign-in (state differs)")
        try:
            with self._session() as session:
                token = session.fetch_token(
                    self.metadata()["token_endpoint"],
                    code=code,
                    code_verifier=pending.verifier,
                    timeout=self.settings.timeout,
                )
        except (OAuth2Error, requests.RequestException, ValueError) as exc:
            raise SsoFailed(f"the provider refused the code: {type(exc).__name__}") from exc
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise SsoFailed("the provider sent no ID token")
        return self._verify(id_token, pending.nonce)

    def _verify(self, id_token: str, nonce: str) -> dict[str, Any]:
        registry = jwt.JWTClaimsRegistry(
            now=lambda: int(self.wall()),
            leeway=LEEWAY_SECONDS,
            iss={"essential": True, "value": self.settings.issuer},
            aud={"essential": True, "value": self.settings.client_id},
            exp={"essential": True},
            sub={"essential": True},
            nonce={"essential": True, "value": nonce},
        )
        for refresh in (False, True):
            try:
                decoded = jwt.decode(id_token, self._keyset(refresh), algorithms=list(ALGORITHMS))
                registry.validate(decoded.claims)
            except JoseError as exc:
                if not refresh and "key" in type(exc).__name__.lower():
                    continue  # a key the provider rotated in since we read its keys
                raise SsoFailed(f"the ID token does not verify: {exc.error}") from exc
            except ValueError as exc:
                raise SsoFailed("the ID token is malformed") from exc
            return dict(decoded.claims)
        raise SsoFailed("the ID token is signed with a key the provider does not publish")

    def _keyset(self, refresh: bool) -> KeySet:
        if self._keys is None or refresh:
            try:
                self._keys = KeySet.import_key_set(self._get(self.metadata()["jwks_uri"]))  # type: ignore[arg-type]
            except (JoseError, ValueError, KeyError, TypeError) as exc:
                raise SsoFailed("the provider's signing keys cannot be read") from exc
        return self._keys
