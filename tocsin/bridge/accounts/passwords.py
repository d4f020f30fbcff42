"""Local passwords: Argon2id hashes (argon2-cffi), never the password itself, checked in even time."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from tocsin.bridge.errors import InvalidInput

MIN_LENGTH = 10
MAX_LENGTH = 1024  # Argon2 takes any length; a bound keeps one request from costing much


def check_strength(password: str, name: str) -> None:
    """Refuse a password too short, too long or equal to the account's name (field: password)."""
    if len(password) < MIN_LENGTH:
        raise InvalidInput(f"the password needs at least {MIN_LENGTH} characters", "password")
    if len(password) > MAX_LENGTH:
        raise InvalidInput(f"the password may have at most {MAX_LENGTH} characters", "password")
    if password.strip().lower() == name.lower():
        raise InvalidInput("the password may not be the account's name", "password")


class Passwords:
    """Hash and verify passwords with Argon2id; a missing hash costs as much as a wrong one."""

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self.hasher = hasher or PasswordHasher()
        self._decoy: str | None = None

    def hash(self, password: str) -> str:
        """Return the encoded Argon2id hash of `password`."""
        return self.hasher.hash(password)

    def verify(self, encoded: str | None, password: str) -> bool:
        """Return whether `password` matches `encoded` (None: no password, always False)."""
        if len(password) > MAX_LENGTH:
            return False
        if encoded is None and self._decoy is None:
            # Verified when an account has no password, so timing does not tell who has one.
            self._decoy = self.hasher.hash("tocsin-no-password-set")
        try:
            return (
                self.hasher.verify(encoded or self._decoy or "", password) and encoded is not None
            )
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, encoded: str) -> bool:
        """Return whether a hash was made with weaker parameters than today's."""
        return self.hasher.check_needs_rehash(encoded)
