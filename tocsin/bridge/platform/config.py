"""The bridge config: read once from YAML into a frozen object, every key validated up front.

Keys and defaults (every one optional; no file at all gives the defaults):

  listen: 127.0.0.1:8080          HOST:PORT the HTTP server binds
  workers: 1                      processes serving `listen`; the first also runs the background
                                  jobs (README: "Worker processes")
  database_url: sqlite:///tocsin.db   or postgresql+psycopg://USER:PASS@HOST/DB
  database_password_file: null    a file whose content replaces the password in database_url
  sqlite_synchronous: full        full: a 2xx survives power loss; normal: survives a bridge
                                  crash but may lose the last commits to a power cut (~10x faster)
  policy: null                    policy YAML path; null = the bundled rules/policy.yml
  public_url: null                base of links in pages; null = http://LISTEN
  data_dir: null                  where generated secrets live; null = the SQLite file's
                                  directory, or the working directory on PostgreSQL
  tokens: []                      [{name, role, value | value_file | sha256 | env}]; role is
                                  ingest, operator (= manager) or a person's role (README: Roles)
                                  empty: serve generates one token per role into
                                  DATA_DIR/tokens.yml (mode 0600) and logs only the file path
  secret_key: null                signs ack links and sessions; or secret_key_file: PATH;
                                  neither: DATA_DIR/secret.key is generated (mode 0600)
  smtp: null                      {host, port: 587, from, starttls: true, ssl: false,
                                   username, password | password_file | password_env, timeout: 10s}
  limits:
    max_body_bytes: 1MiB          a larger request is answered 413
    max_alerts_per_request: 1000  a larger batch is answered 413
    busy_timeout: 5s              wait this long for a database lock, then answer 503
                                  (under the 10s senders such as Prometheus wait for an answer)
    retry_after: 2s               Retry-After sent with 503
    max_ingest_requests: 32       ingest requests in hand at once; more are answered 503 at once
    max_queued_alerts: 5000       alerts waiting for a commit; more are answered 503 at once
    queue_timeout: 500ms          a request not committed within this of its arrival: 503, not
                                  stored (refused at once if the work ahead would not commit
                                  in time at the pace of recent commits)
    request_timeout: 4s           an ingest request not answered by then is answered 503
    read_timeout: 10s             a request's headers not received by then: connection closed;
                                  its body not received by then: 408
    max_connections: 1000         open connections at most (the oldest idle one makes room);
                                  3/4 of them mid-request, past that 503 (README: network)
    keep_alive: 5s                an idle keep-alive connection is closed after this
    statement_timeout: 30s        PostgreSQL ends a statement after this; the bridge cuts a link
                                  silent for 2 s longer
    timer_lease: 30s              a replica's claim on due timers; PostgreSQL ends a session
                                  idle inside a transaction after a third of it
    report_processes: 1           SLA reports (API, web page) are computed in this many
                                  processes of their own, so intake keeps its CPU; 0: in the
                                  serving process (tiny installs, tests)
    report_queue: 4               reports waiting for a process at most; more: 503
    report_timeout: 5m            a report not done by then: 503, its process is restarted
  ingest:
    clock_skew_tolerance: 10m     without a clue to a v2 sender's clock (X-Tocsin-Sender-Time,
                                  Date), an endsAt less than this in the past still means firing;
                                  also how far a sender's clock may lag when a firing after a
                                  resolve is judged new (README: "How the bridge reads alerts")
  log_level: info                 debug|info|warning|error
  notify: {ack_link_ttl: 24h, retry_base: 5s, retry_cap: 1m, max_age: 24h, stale_pages: drop,
          deliver_from: every, parallel: 8}
                                  ack link lifetime; outbox retries before a dead letter;
                                  with workers > 1, whether every process or the first delivers;
                                  process: a process of its own delivers, the workers none;
                                  deliveries at once per delivering process (1-64)
  reporter_mail: {enabled: true, domain: tocsin, from, reply_to, language: en, templates,
                  survey_ttl: 14d}   mails to reporters (platform/reporter_settings.py)
  retention: 7d                   fired and cancelled timers and delivered notifications older
                                  than this are pruned (incidents, events and alerts are kept)
  mailin: null                    incidents from e-mail: an SMTP/LMTP listener and/or an IMAP
                                  mailbox, with sorting rules (tocsin/bridge/platform/mailin_settings.py)
  sso: null                       single sign-on through OpenID Connect (platform/sso_settings.py)
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from tocsin.bridge.errors import ConfigError
from tocsin.bridge.platform.mailin_settings import MailinSettings, parse_mailin
from tocsin.bridge.platform.notify_settings import NotifySettings, parse_notify
from tocsin.bridge.platform.reporter_settings import ReporterMailSettings, parse_reporter_mail
from tocsin.bridge.platform.sso_settings import SsoSettings, parse_sso
from tocsin.bridge.platform.values import choice as _choice
from tocsin.bridge.platform.values import flag as _bool
from tocsin.bridge.platform.values import host_port, password, split_host_port
from tocsin.bridge.platform.values import optional_text as _optional_str
from tocsin.bridge.platform.values import path_value as _path
from tocsin.bridge.platform.values import port as _port
from tocsin.bridge.platform.values import read_secret as _read_secret
from tocsin.bridge.platform.values import seconds as _seconds
from tocsin.bridge.platform.values import size as _size
from tocsin.bridge.platform.values import text as _str
from tocsin.bridge.platform.where import Where, as_list, as_mapping
from tocsin.common.yamlsource import load_file, shown

# A person's role on the board, least to most; tocsin.bridge.accounts.roles says what each may do.
PERSON_ROLES = ("viewer", "responder", "service_desk", "manager", "admin")
# A shared token's role: ingest (senders), operator (today's powers: manager) or a person's role.
ROLES = ("ingest", "operator", *PERSON_ROLES)
KEYS = (
    "listen",
    "workers",
    "database_url",
    "database_password_file",
    "sqlite_synchronous",
    "policy",
    "public_url",
    "data_dir",
    "tokens",
    "secret_key",
    "secret_key_file",
    "smtp",
    "limits",
    "ingest",
    "log_level",
    "notify",
    "retention",
    "mailin",
    "reporter_mail",
    "sso",
)
DEFAULT_LISTEN = "127.0.0.1:8080"
MAX_WORKERS = 64
DEFAULT_DATABASE_URL = "sqlite:///tocsin.db"
DEFAULT_SKEW_TOLERANCE = timedelta(minutes=10)


@dataclass(frozen=True)
class Token:
    """A credential: its name (the actor recorded on changes), role and sha256 digest."""

    name: str
    role: str
    sha256: str


@dataclass(frozen=True)
class Smtp:
    """How to reach the mail relay; the password is held, never printed."""

    host: str
    port: int = 587
    sender: str = "tocsin@localhost"
    starttls: bool = True
    ssl: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = 10.0


@dataclass(frozen=True)
class Limits:
    """Bounds that keep a bad sender from hurting everyone else."""

    max_body_bytes: int = 1024 * 1024
    max_alerts_per_request: int = 1000
    busy_timeout: float = 5.0
    retry_after: int = 2
    max_ingest_requests: int = 32
    max_queued_alerts: int = 5000
    queue_timeout: float = 0.5
    request_timeout: float = 4.0
    read_timeout: float = 10.0
    max_connections: int = 1000
    keep_alive: float = 5.0
    statement_timeout: float = 30.0
    timer_lease: float = 30.0
    # SLA reports computed in their own processes (0: in the serving process; README: reports).
    report_processes: int = 1
    report_queue: int = 4
    report_timeout: float = 300.0

    @property
    def idle_in_transaction_timeout(self) -> float:
        """Return how long PostgreSQL lets a session idle in a transaction: well inside the lease."""
        return max(1.0, self.timer_lease / 3)


@dataclass(frozen=True)
class BridgeConfig:
    """Everything the bridge reads from its config file, validated."""

    listen: str = DEFAULT_LISTEN
    workers: int = 1
    database_url: str = field(default=DEFAULT_DATABASE_URL, repr=False)
    sqlite_synchronous: str = "full"
    policy: Path | None = None
    public_url: str | None = None
    data_dir: Path | None = None
    tokens: tuple[Token, ...] = ()
    secret_key: bytes | None = field(default=None, repr=False)
    secret_key_file: Path | None = None
    smtp: Smtp | None = None
    limits: Limits = Limits()
    clock_skew_tolerance: timedelta = DEFAULT_SKEW_TOLERANCE
    log_level: str = "info"
    notify: NotifySettings = NotifySettings()
    retention: timedelta = timedelta(days=7)
    mailin: MailinSettings | None = None
    reporter_mail: ReporterMailSettings = ReporterMailSettings()
    sso: SsoSettings | None = None
    source: str = "<defaults>"
    listen_at: str = "<defaults>"  # 'file:line' of `listen`, for a bind fault found at serve

    @property
    def host(self) -> str:
        """Return the host part of `listen`."""
        return split_host_port(self.listen)[0]

    @property
    def port(self) -> int:
        """Return the port part of `listen`."""
        return split_host_port(self.listen)[1]

    @property
    def base_url(self) -> str:
        """Return the URL people reach the bridge at (public_url, else the listen address)."""
        return (self.public_url or f"http://{self.listen}").rstrip("/")

    @property
    def state_dir(self) -> Path:
        """Return where generated secrets are kept."""
        if self.data_dir is not None:
            return self.data_dir
        path = sqlite_path(self.database_url)
        return path.parent if path is not None else Path(".")


def load_config(path: Path | None = None, env: Mapping[str, str] | None = None) -> BridgeConfig:
    """Load and validate a config file; None gives the defaults."""
    if path is None:
        return BridgeConfig()
    raw = load_file(path, error=ConfigError, any_scalar_key=True)
    return parse_config(raw, str(path), base=path.parent, env=os.environ if env is None else env)


def parse_config(
    raw: Any, source: str, base: Path = Path("."), env: Mapping[str, str] | None = None
) -> BridgeConfig:
    """Validate parsed YAML into a BridgeConfig; relative paths are taken from `base`."""
    env = os.environ if env is None else env
    where = Where(source)
    raw = as_mapping(raw, where, KEYS)
    listen_where = where.key(raw, "listen")
    listen = host_port(raw.get("listen", DEFAULT_LISTEN), listen_where, "127.0.0.1:8080")
    database_url = _str(
        raw.get("database_url", DEFAULT_DATABASE_URL), where.key(raw, "database_url")
    )
    database_url = _database_url(database_url, raw, where, base)
    secret_file = _path(raw.get("secret_key_file"), base)
    secret = raw.get("secret_key")
    if secret is not None and secret_file is not None:
        raise where.key(raw, "secret_key").error("give secret_key or secret_key_file, not both")
    return BridgeConfig(
        listen=listen,
        workers=_workers(raw.get("workers", 1), where.key(raw, "workers")),
        database_url=database_url,
        sqlite_synchronous=_choice(
            raw.get("sqlite_synchronous", "full"),
            where.key(raw, "sqlite_synchronous"),
            ("full", "normal"),
        ),
        policy=_path(raw.get("policy"), base),
        public_url=_optional_str(raw.get("public_url"), where.key(raw, "public_url")),
        data_dir=_path(raw.get("data_dir"), base),
        tokens=_tokens(raw.get("tokens"), where.key(raw, "tokens"), base, env),
        secret_key=_str(secret, where.key(raw, "secret_key")).encode() if secret else None,
        secret_key_file=secret_file,
        smtp=_smtp(raw.get("smtp"), where.key(raw, "smtp"), base, env),
        limits=_limits(raw.get("limits"), where.key(raw, "limits")),
        clock_skew_tolerance=_ingest(raw.get("ingest"), where.key(raw, "ingest")),
        log_level=_choice(
            raw.get("log_level", "info"),
            where.key(raw, "log_level"),
            ("debug", "info", "warning", "error"),
        ),
        notify=parse_notify(raw.get("notify"), where.key(raw, "notify")),
        retention=_retention(raw.get("retention", "7d"), where.key(raw, "retention")),
        mailin=parse_mailin(raw.get("mailin"), where.key(raw, "mailin"), base, env),
        reporter_mail=parse_reporter_mail(
            raw.get("reporter_mail"), where.key(raw, "reporter_mail"), base
        ),
        sso=parse_sso(raw.get("sso"), where.key(raw, "sso"), base, env, PERSON_ROLES),
        source=source,
        listen_at=listen_where.place if "listen" in raw else source,
    )


def digest(value: str) -> str:
    """Return the hex sha256 of a token, the only form the bridge keeps."""
    return hashlib.sha256(value.encode()).hexdigest()


def _database_url(url: str, raw: Mapping[str, Any], where: Where, base: Path) -> str:
    if not url.startswith(("sqlite://", "postgresql")):
        raise where.key(raw, "database_url").error(
            "expected sqlite:///PATH or postgresql+psycopg://USER@HOST/DB"
        )
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        relative = url.removeprefix("sqlite:///")
        if relative and relative != ":memory:" and base != Path("."):
            url = f"sqlite:///{(base / relative).resolve()}"
    password_file = raw.get("database_password_file")
    if password_file is not None:
        from sqlalchemy.engine import make_url

        password = _read_secret(
            _path(password_file, base), where.key(raw, "database_password_file")
        )
        url = make_url(url).set(password=password).render_as_string(hide_password=False)
    return url


def _tokens(raw: Any, where: Where, base: Path, env: Mapping[str, str]) -> tuple[Token, ...]:
    out: list[Token] = []
    for index, item in enumerate(as_list(raw, where)):
        at = where.key(raw, index)
        item = as_mapping(item, at, ("name", "role", "value", "value_file", "sha256", "env"))
        name = _str(item.get("name"), at.key(item, "name"))
        role = _choice(item.get("role"), at.key(item, "role"), ROLES)
        sources = [key for key in ("value", "value_file", "sha256", "env") if item.get(key)]
        if len(sources) != 1:
            raise at.error(
                f"token {shown(name)}: give exactly one of value, value_file, sha256, env "
                f"(got {len(sources)})"
            )
        source = sources[0]
        if source == "value":
            hashed = digest(_str(item["value"], at.key(item, "value")))
        elif source == "value_file":
            path = _path(item["value_file"], base)
            hashed = digest(_read_secret(path, at.key(item, "value_file")))
        elif source == "env":
            variable = _str(item["env"], at.key(item, "env"))
            if not env.get(variable):
                raise at.key(item, "env").error(
                    f"environment variable {shown(variable)} is not set or empty"
                )
            hashed = digest(env[variable].strip())
        else:
            hashed = str(item["sha256"]).lower()
            if not re.fullmatch(r"[0-9a-f]{64}", hashed):
                raise at.key(item, "sha256").error(
                    "expected 64 hex digits (sha256sum of the token)"
                )
        if any(token.name == name for token in out):
            raise at.key(item, "name").error(f"token name {shown(name)} is used twice")
        out.append(Token(name=name, role=role, sha256=hashed))
    return tuple(out)


def _smtp(raw: Any, where: Where, base: Path, env: Mapping[str, str]) -> Smtp | None:
    if raw is None:
        return None
    allowed = (
        "host",
        "port",
        "from",
        "starttls",
        "ssl",
        "username",
        "password",
        "password_file",
        "password_env",
        "timeout",
    )
    raw = as_mapping(raw, where, allowed)
    return Smtp(
        host=_str(raw.get("host"), where.key(raw, "host")),
        port=_port(raw.get("port", 587), where.key(raw, "port")),
        sender=_str(raw.get("from", "tocsin@localhost"), where.key(raw, "from")),
        starttls=_bool(raw.get("starttls", True), where.key(raw, "starttls")),
        ssl=_bool(raw.get("ssl", False), where.key(raw, "ssl")),
        username=_optional_str(raw.get("username"), where.key(raw, "username")),
        password=password(raw, where, base, env),
        timeout=_seconds(raw.get("timeout", "10s"), where.key(raw, "timeout")),
    )


_COUNTS = (
    "max_alerts_per_request",
    "max_ingest_requests",
    "max_queued_alerts",
    "max_connections",
    "report_queue",
)
_TIMES = (
    "busy_timeout",
    "queue_timeout",
    "request_timeout",
    "read_timeout",
    "keep_alive",
    "statement_timeout",
    "timer_lease",
    "report_timeout",
)
MAX_REPORT_PROCESSES = 4


def _limits(raw: Any, where: Where) -> Limits:
    keys = ("max_body_bytes", "retry_after", "report_processes", *_COUNTS, *_TIMES)
    raw = as_mapping(raw, where, keys)
    defaults = Limits()
    values: dict[str, Any] = {}
    processes = raw.get("report_processes", defaults.report_processes)
    if (
        isinstance(processes, bool)
        or not isinstance(processes, int)
        or not 0 <= processes <= MAX_REPORT_PROCESSES
    ):
        raise where.key(raw, "report_processes").error(
            f"{shown(processes)} must be a whole number from 0 to {MAX_REPORT_PROCESSES}"
        )
    values["report_processes"] = processes
    for key in _COUNTS:
        count = raw.get(key, getattr(defaults, key))
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise where.key(raw, key).error(f"{shown(count)} must be a whole number, at least 1")
        values[key] = count
    for key in _TIMES:
        seconds = _seconds(raw.get(key, f"{getattr(defaults, key)}s"), where.key(raw, key))
        if seconds <= 0:
            raise where.key(raw, key).error(f"{shown(raw.get(key))} must be longer than 0s")
        values[key] = seconds
    return Limits(
        max_body_bytes=_size(
            raw.get("max_body_bytes", defaults.max_body_bytes), where.key(raw, "max_body_bytes")
        ),
        retry_after=max(
            1, int(_seconds(raw.get("retry_after", "2s"), where.key(raw, "retry_after")))
        ),
        **values,
    )


def _ingest(raw: Any, where: Where) -> timedelta:
    raw = as_mapping(raw, where, ("clock_skew_tolerance",))
    at = where.key(raw, "clock_skew_tolerance")
    seconds = _seconds(raw.get("clock_skew_tolerance", "10m"), at)
    if not 0 <= seconds <= 86400:
        raise at.error(f"{at.show(raw.get('clock_skew_tolerance'))} must be between 0s and 1d")
    return timedelta(seconds=seconds)


def _workers(raw: Any, where: Where) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int) or not 1 <= raw <= MAX_WORKERS:
        raise where.error(f"{shown(raw)} must be a whole number from 1 to {MAX_WORKERS}")
    return raw


def _retention(raw: Any, where: Where) -> timedelta:
    seconds = _seconds(raw, where)
    if seconds < 3600:
        raise where.error(f"{shown(raw)} is too short; keep at least 1h of history, e.g. '7d'")
    return timedelta(seconds=seconds)


def sqlite_path(url: str) -> Path | None:
    """Return the file of a SQLite URL, or None for other databases and in-memory SQLite."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(str(parsed.database))
