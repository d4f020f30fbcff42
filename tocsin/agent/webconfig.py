"""TLS and basic auth for /metrics, read from a web config file in node_exporter's format.

The file is the one `node_exporter --web.config.file` takes (Prometheus' exporter-toolkit):

    tls_server_config:
      cert_file: /etc/tocsin/agent.pem
      key_file: /etc/tocsin/agent.key
      client_auth_type: RequireAndVerifyClientCert   # or NoClientCert, VerifyClientCertIfGiven
      client_ca_file: /etc/tocsin/ca.pem
      min_version: TLS12                             # and max_version
    basic_auth_users:
      prometheus: $2y$10$...                         # bcrypt, as `htpasswd -nBC 10` writes it

Keys the agent does not implement (cipher_suites, http_server_config, ...) are refused by name,
never ignored. Certificates and keys are loaded when the config is, so a fault is a config
fault. Passwords are checked with the system's libcrypt (bcrypt); a password that passed is
remembered (as a hash) so a scrape every few seconds does not pay bcrypt each time.
"""

from __future__ import annotations

import ctypes
import hashlib
import hmac
import ssl
import threading
from dataclasses import dataclass
from pathlib import Path

from tocsin.agent.errors import ConfigError
from tocsin.common.yamlsource import LinedDict, load_file, shown

_TOP = ("tls_server_config", "basic_auth_users")
_TLS = ("cert_file", "key_file", "client_auth_type", "client_ca_file", "min_version", "max_version")
CLIENT_AUTH = {
    "NoClientCert": ssl.CERT_NONE,
    "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
    "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
}
VERSIONS = {
    "TLS10": ssl.TLSVersion.TLSv1,
    "TLS11": ssl.TLSVersion.TLSv1_1,
    "TLS12": ssl.TLSVersion.TLSv1_2,
    "TLS13": ssl.TLSVersion.TLSv1_3,
}
# Passwords that passed, remembered by hash; past this many the memory starts afresh.
_REMEMBERED = 64


@dataclass(frozen=True, eq=False)
class WebConfig:
    """What /metrics demands of a scraper: TLS (a server context) and basic-auth users.

    Two are equal when their files are: the web config's text and the certificate files' times,
    so a reload after a certificate was renewed serves the new one.
    """

    source: Path
    tls: ssl.SSLContext | None
    users: tuple[tuple[str, str], ...]
    fingerprint: str

    def __eq__(self, other: object) -> bool:
        return isinstance(other, WebConfig) and self.fingerprint == other.fingerprint

    def __hash__(self) -> int:
        return hash(self.fingerprint)


class _Reader:
    def __init__(self, path: Path, node: LinedDict, prefix: str = "") -> None:
        self.path, self.node, self.prefix = path, node, prefix

    def fail(self, key: str, problem: str) -> ConfigError:
        return ConfigError(f"{self.path}:{self.node.line_of(key)}: '{self.prefix}{key}' {problem}")

    def check_keys(self, allowed: tuple[str, ...]) -> None:
        for key in self.node:
            if key not in allowed:
                raise self.fail(
                    key, f"is not supported by tocsin-agent; it takes {', '.join(allowed)}"
                )

    def text(self, key: str) -> str | None:
        value = self.node.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or not value:
            raise self.fail(key, f"is {shown(value)}; expected text")
        return value


def load_web_config(path: Path) -> WebConfig:
    """Read a web config file; raise ConfigError naming the file, line and key of a fault."""
    document = load_file(path, error=ConfigError)
    files: list[Path] = []
    if document is None:
        document = LinedDict()
        document.key_lines = {}
    if not isinstance(document, LinedDict):
        raise ConfigError(f"{path}: expected a mapping such as 'basic_auth_users: {{...}}'")
    reader = _Reader(path, document)
    reader.check_keys(_TOP)
    tls_node = document.get("tls_server_config")
    tls = None
    if tls_node is not None:
        if not isinstance(tls_node, LinedDict):
            raise reader.fail("tls_server_config", f"is {shown(tls_node)}; expected a mapping")
        tls = _server_context(_Reader(path, tls_node, "tls_server_config."), path.parent, files)
    return WebConfig(path, tls, _users(reader), _fingerprint([path, *files]))


def _fingerprint(paths: list[Path]) -> str:
    """Return what changes when any of these files does: their contents' digest."""
    digest = hashlib.sha256()
    for path in paths:
        try:
            digest.update(path.read_bytes())
        except OSError:
            digest.update(b"unreadable")
    return digest.hexdigest()


def _server_context(reader: _Reader, base: Path, files: list[Path]) -> ssl.SSLContext:
    reader.check_keys(_TLS)
    cert, key = reader.text("cert_file"), reader.text("key_file")
    if cert is None or key is None:
        missing = "cert_file" if cert is None else "key_file"
        raise reader.fail(missing, "is missing; TLS needs the server's certificate and key")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    files += [base / cert, base / key]
    try:
        context.load_cert_chain(base / cert, base / key, password=b"")
    except (ssl.SSLError, OSError) as exc:
        why = exc.reason if isinstance(exc, ssl.SSLError) else exc.strerror
        raise reader.fail("cert_file", f"and key_file cannot be loaded ({why})") from None
    auth = reader.text("client_auth_type") or "NoClientCert"
    if auth not in CLIENT_AUTH:
        raise reader.fail(
            "client_auth_type", f"is {shown(auth)}; tocsin-agent takes {', '.join(CLIENT_AUTH)}"
        )
    context.verify_mode = CLIENT_AUTH[auth]
    client_ca = reader.text("client_ca_file")
    if context.verify_mode != ssl.CERT_NONE:
        if client_ca is None:
            raise reader.fail("client_ca_file", f"is missing; {auth} needs the clients' CA")
        files.append(base / client_ca)
        try:
            context.load_verify_locations(cafile=str(base / client_ca))
        except (ssl.SSLError, OSError) as exc:
            why = exc.reason if isinstance(exc, ssl.SSLError) else exc.strerror
            raise reader.fail("client_ca_file", f"cannot be loaded ({why})") from None
    for key, attribute in (("min_version", "minimum_version"), ("max_version", "maximum_version")):
        version = reader.text(key)
        if version is None:
            continue
        if version not in VERSIONS:
            raise reader.fail(key, f"is {shown(version)}; use one of {', '.join(VERSIONS)}")
        setattr(context, attribute, VERSIONS[version])
    return context


def _users(reader: _Reader) -> tuple[tuple[str, str], ...]:
    raw = reader.node.get("basic_auth_users")
    if raw is None:
        return ()
    if not isinstance(raw, LinedDict) or not raw:
        raise reader.fail("basic_auth_users", f"is {shown(raw)}; expected user: bcrypt hash")
    users = []
    for user, hashed in raw.items():
        if not isinstance(hashed, str) or not hashed.startswith(("$2a$", "$2b$", "$2y$")):
            # The hash is not shown: a password pasted here by mistake must not reach a log.
            raise reader.fail(
                "basic_auth_users", f"has {shown(user)} without a bcrypt hash ($2y$...)"
            )
        users.append((str(user), hashed))
    if _crypt(b"probe", users[0][1].encode()) is None:
        raise reader.fail("basic_auth_users", "needs the system's libcrypt with bcrypt")
    return tuple(users)


_LOCK = threading.Lock()
_LIBCRYPT: list[ctypes.CDLL] = []


def _crypt(password: bytes, setting: bytes) -> bytes | None:
    """Hash `password` as `setting` says with libcrypt's crypt(); None if it cannot."""
    with _LOCK:
        if not _LIBCRYPT:
            try:
                library = ctypes.CDLL("libcrypt.so.1")
            except OSError:
                return None
            library.crypt.restype = ctypes.c_char_p
            library.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
            _LIBCRYPT.append(library)
        # crypt() answers into one static buffer: the lock keeps threads out of each other's.
        result: bytes | None = _LIBCRYPT[0].crypt(password, setting)
    return result


class BasicAuth:
    """Check HTTP basic-auth credentials against the bcrypt hashes of the web config."""

    def __init__(self, users: tuple[tuple[str, str], ...]) -> None:
        self._users = dict(users)
        self._passed: set[bytes] = set()
        self._lock = threading.Lock()

    def allows(self, user: str, password: str) -> bool:
        """Tell whether the user exists and the password is theirs."""
        hashed = self._users.get(user)
        if hashed is None:
            return False
        token = hashlib.sha256(f"{user}\0{password}\0{hashed}".encode()).digest()
        with self._lock:
            if token in self._passed:
                return True
        result = _crypt(password.encode(), hashed.encode())
        if result is None or not hmac.compare_digest(result, hashed.encode()):
            return False
        with self._lock:
            if len(self._passed) >= _REMEMBERED:
                self._passed.clear()
            self._passed.add(token)
        return True
