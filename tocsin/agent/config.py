"""The agent's config file, read once into frozen typed objects, every fault named by file:line."""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from tocsin.agent.collectors.names import COLLECTORS
from tocsin.agent.errors import ConfigError
from tocsin.agent.include import Merged, read_with_includes
from tocsin.agent.limits import MAX_LABELS, MAX_NAME, text_problem
from tocsin.agent.rules import (
    GAUGES,
    Rule,
    load_bundled_rules,
    load_rules_file,
    merge_rules,
    parse_rule,
)
from tocsin.agent.urls import redact_url
from tocsin.common.durations import parse_duration, parse_size
from tocsin.common.yamlsource import SHOWN_CHARS, LinedDict, shown, shown_path

if TYPE_CHECKING:
    from tocsin.agent.checks.spec import CheckSpec
    from tocsin.agent.tls import TlsConfig
    from tocsin.agent.webconfig import WebConfig

DEFAULT_LISTEN = ("127.0.0.1", 10042)
DEFAULT_INTERVAL = 10.0
DEFAULT_RESEND = 60.0
DEFAULT_PUSH_TIMEOUT = 10.0
# A firing alert's endsAt lies this much further ahead, so a host clock this far behind the
# receiver's does not make Alertmanager take the alert as already ended.
DEFAULT_CLOCK_SKEW = 600.0
DEFAULT_HEARTBEAT = 30.0
DEFAULT_SPOOL_BYTES = 64 * 1024**2
DEFAULT_MAX_BATCH = 500
DEFAULT_MAX_RATE = 1000.0
DEFAULT_DEAD_LETTERS = 1000
# The `job` label agent alerts carry unless `labels:` sets one: the scrape job Prometheus rules
# and node-mixin runbooks expect (rules/prometheus/*.yml select job="tocsin-agent").
DEFAULT_JOB = "tocsin-agent"
_TOP_KEYS = (
    "interval",
    "listen",
    "labels",
    "rules",
    "push",
    "spool",
    "heartbeat",
    "state_dir",
    "filesystems",
    "disks",
    "interfaces",
    "collectors",
    "textfile",
    "hostname",
    "include",
    "external_url",
    "web_config_file",
    "checks",
)
_PUSH_KEYS = (
    "name",
    "url",
    "token",
    "token_file",
    "username",
    "password_file",
    "ca_file",
    "cert_file",
    "key_file",
    "resend",
    "timeout",
    "max_batch",
    "max_rate",
    "clock_skew",
)
_SPOOL_KEYS = ("dir", "max_bytes", "dead_letters")
_FS_KEYS = ("include_fstypes", "exclude_fstypes", "exclude_mountpoints", "timeout")
_NAME_KEYS = ("include", "exclude")
_LABEL = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_RECEIVER_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")


@dataclass(frozen=True)
class PushConfig:
    """Where alerts and heartbeats go; token, password and URL credentials never appear in repr.

    `name` labels the receiver's metrics (default host:port); `subdir` is where its spool and
    dead letters live under the agent's, '' for the first receiver (where a single one always was).
    """

    url: str = field(repr=False)
    token: str | None = field(default=None, repr=False)
    resend: float = DEFAULT_RESEND
    timeout: float = DEFAULT_PUSH_TIMEOUT
    max_batch: int = DEFAULT_MAX_BATCH
    max_rate: float = DEFAULT_MAX_RATE
    clock_skew: float = DEFAULT_CLOCK_SKEW
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: TlsConfig | None = None
    name: str = ""
    subdir: str = ""

    @property
    def display(self) -> str:
        """Return the URL as messages and logs may show it: no credentials, no query."""
        return redact_url(self.url)

    @property
    def label(self) -> str:
        """Return the receiver's name in metrics and logs: its `name`, else host:port."""
        return self.name or _host_port(self.url)

    @property
    def auth(self) -> tuple[str, str] | None:
        """Return the HTTP basic auth pair, when `username` and `password_file` are set."""
        if self.username is None or self.password is None:
            return None
        return (self.username, self.password)

    def __repr__(self) -> str:
        return (
            f"PushConfig(url={self.display!r}, resend={self.resend!r}, timeout={self.timeout!r}, "
            f"max_batch={self.max_batch!r}, max_rate={self.max_rate!r})"
        )


@dataclass(frozen=True)
class SpoolConfig:
    """The on-disk queue that holds alerts while the receiver is unreachable."""

    dir: Path
    max_bytes: int = DEFAULT_SPOOL_BYTES
    dead_letters: int = DEFAULT_DEAD_LETTERS


@dataclass(frozen=True)
class SamplerConfig:
    """What the sampler watches; None leaves the Sampler's own default in place."""

    include_fstypes: tuple[str, ...] | None = None
    exclude_fstypes: tuple[str, ...] | None = None
    exclude_mountpoints: str | None = None
    fs_timeout: float | None = None
    include_devices: str | None = None
    exclude_devices: str | None = None
    include_interfaces: str | None = None
    exclude_interfaces: str | None = None
    disabled: tuple[str, ...] | None = None
    textfile_directory: str | None = None

    def options(self) -> dict[str, Any]:
        """Return the Sampler keyword arguments this config sets."""
        return {key: value for key, value in vars(self).items() if value is not None}


@dataclass(frozen=True)
class AgentConfig:
    """Everything the agent runs on; built by load_config or default_config, never mutated."""

    source: str
    state_dir: Path
    spool: SpoolConfig
    instance: str
    rules: tuple[Rule, ...]
    interval: float = DEFAULT_INTERVAL
    listen: tuple[str, int] | None = DEFAULT_LISTEN
    labels: tuple[tuple[str, str], ...] = ()
    push: PushConfig | None = None
    heartbeat: float | None = None
    sampler: SamplerConfig = SamplerConfig()
    external_url: str | None = None
    # Receivers after the first (`push` as a list): each gets every alert, from its own spool.
    more_push: tuple[PushConfig, ...] = ()
    # TLS and basic auth of /metrics (node_exporter's --web.config.file format).
    web: WebConfig | None = None
    # Service checks (process, tcp, http, tls, file), run beside the cycle.
    checks: tuple[CheckSpec, ...] = ()

    @property
    def receivers(self) -> tuple[PushConfig, ...]:
        """Return every receiver alerts go to, the first one first."""
        return () if self.push is None else (self.push, *self.more_push)

    def spool_dir(self, push: PushConfig) -> Path:
        """Return the directory of one receiver's spool."""
        return self.spool.dir / push.subdir if push.subdir else self.spool.dir

    @property
    def base_labels(self) -> tuple[tuple[str, str], ...]:
        """Return the labels every alert carries: host name and job, then the configured labels."""
        return tuple({"instance": self.instance, "job": DEFAULT_JOB, **dict(self.labels)}.items())

    @property
    def generator_base(self) -> str | None:
        """Return the URL this agent is reached at, for alerts' generatorURL; None: not served."""
        if self.external_url is not None:
            return self.external_url
        if self.listen is None:
            return None
        # As Prometheus' --web.external-url defaults to http://<hostname>:<port>.
        scheme = "https" if self.web is not None and self.web.tls is not None else "http"
        return f"{scheme}://{self.instance}:{self.listen[1]}"


def default_state_dir(env: Mapping[str, str], is_root: bool) -> Path:
    """Pick the state directory: systemd's StateDirectory, /var/lib for root, else XDG."""
    if env.get("STATE_DIRECTORY"):
        return Path(env["STATE_DIRECTORY"].split(":")[0])
    if is_root:
        return Path("/var/lib/tocsin-agent")
    base = env.get("XDG_STATE_HOME") or str(Path(env.get("HOME", "/tmp")) / ".local" / "state")
    return Path(base) / "tocsin-agent"


class _Reader:
    """Reads typed values out of one YAML mapping, naming file:line and the dotted key on faults."""

    def __init__(self, source: str, node: LinedDict, prefix: str = "") -> None:
        self.source, self.node, self.prefix = source, node, prefix

    def source_of(self, key: str) -> str:
        """Return the file a key was read from: an included file, or this reader's."""
        if isinstance(self.node, Merged):
            return self.node.key_sources.get(key, self.source)
        return self.source

    def fail(self, key: str, problem: str) -> ConfigError:
        return ConfigError(
            f"{self.source_of(key)}:{self.node.line_of(key)}: "
            f"'{self.prefix}{_shown_key(key)}' {problem}"
        )

    def check_keys(self, allowed: tuple[str, ...]) -> None:
        for key in self.node:
            if key not in allowed:
                raise self.fail(key, f"is not a known key; use one of {', '.join(allowed)}")

    def parsed(
        self,
        key: str,
        parse: Callable[[Any], Any],
        default: Any,
        expected: str,
        show: Callable[[Any], str] = shown,
    ) -> Any:
        if key not in self.node or self.node[key] is None:
            return default
        try:
            return parse(self.node[key])
        except (ValueError, TypeError):
            raise self.fail(key, f"is {show(self.node[key])}; expected {expected}") from None

    def child(self, key: str) -> _Reader | None:
        value = self.node.get(key)
        if value is None:
            return None
        if not isinstance(value, LinedDict):
            raise self.fail(key, f"is {shown(value)}; expected a mapping")
        return _Reader(self.source_of(key), value, f"{self.prefix}{key}.")


def _duration(text: Any) -> float:
    seconds = parse_duration(text)
    if seconds < 0:
        raise ValueError("negative")
    return seconds


def _positive_duration(text: Any) -> float:
    seconds = parse_duration(text)
    if seconds <= 0:
        raise ValueError("not positive")
    return seconds


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError("not a positive whole number")
    return value


def _rate(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1e9:
        raise ValueError("not a positive number")
    return float(value)


def _hostname(value: Any) -> str:
    """Return the `instance` the config names: a name, the host's FQDN, or its short name."""
    name = _text(value).strip()
    if name == "fqdn":
        return socket.getfqdn()
    if name == "short":
        return socket.gethostname()
    if not name or text_problem(name) is not None or any(c.isspace() for c in name):
        raise ValueError("not a host name")
    return name


def _listen(text: Any) -> tuple[str, int]:
    host, _, port = _text(text).rpartition(":")
    if not port.isdigit() or int(port) > 65535:
        raise ValueError("bad port")
    return (host.strip("[]") or "127.0.0.1", int(port))


def _url(text: Any) -> str:
    parts = urlsplit(_text(text))
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("bad url")
    return str(text).rstrip("/")


def _shown_url(value: Any) -> str:
    """Quote a bad URL for a message without the credentials or query it may carry."""
    return shown(redact_url(value) if isinstance(value, str) else value)


def _text(value: Any) -> str:
    """Return a scalar as text; refuse a list or mapping rather than render it (alias bombs)."""
    if isinstance(value, (list, dict)):
        raise ValueError("not a scalar")
    return str(value)


def _shown_key(key: str) -> str:
    """Cut a long key name short: it is quoted in every message about it."""
    return key if len(key) <= SHOWN_CHARS else key[: SHOWN_CHARS - 1] + "…"


def _regex(text: Any) -> str:
    if not isinstance(text, str):
        raise ValueError("not a string")
    try:
        re.compile(text)
    except re.error as exc:
        raise ValueError(str(exc)) from exc
    return text


def _labels(reader: _Reader) -> tuple[tuple[str, str], ...]:
    raw = reader.node.get("labels")
    if raw is None:
        return ()
    if not isinstance(raw, Mapping):
        raise reader.fail("labels", f"is {shown(raw)}; expected a mapping such as {{env: prod}}")
    for name, value in raw.items():
        if not _LABEL.fullmatch(name) or name in ("alertname", "severity"):
            raise reader.fail("labels", f"has label {shown(name)}; use [A-Za-z0-9_], not alertname")
        if not isinstance(value, str):
            raise reader.fail("labels", f"has {name}: {shown(value)}; quote it to make it a string")
        problem = text_problem(value) or (
            f"is {len(name)} characters long" if len(name) > MAX_NAME else None
        )
        if problem is not None:
            raise reader.fail("labels", f"has {_shown_key(name)}: the text {problem}")
    return tuple(sorted(raw.items()))


def _check_label_counts(config: AgentConfig) -> None:
    """Refuse a rule whose alerts would carry more labels than a bridge accepts."""
    source = config.source
    for rule in config.rules:
        names = {"alertname", "severity", *dict(config.base_labels), *dict(rule.labels)}
        names.update(GAUGES[rule.metric])
        if len(names) > MAX_LABELS:
            raise ConfigError(
                f"{rule.source}: rule {rule.name!r}: its alerts would carry {len(names)} labels "
                f"with the config's 'labels' ({source}); a bridge accepts at most {MAX_LABELS}"
            )


def _rules(reader: _Reader, base: Path) -> tuple[Rule, ...]:
    raw = reader.node.get("rules")
    if raw is None:
        return load_bundled_rules()
    if not isinstance(raw, list):
        raise reader.fail("rules", f"is {shown(raw)}; expected a list of files or rule mappings")
    origins = reader.node.rule_origins if isinstance(reader.node, Merged) else []
    rules: list[Rule] = []
    for index, item in enumerate(raw):
        source, position, directory = (
            origins[index] if index < len(origins) else (reader.source, index + 1, base)
        )
        if item == "bundled":
            rules.extend(load_bundled_rules())
        elif isinstance(item, str):
            rules.extend(load_rules_file(directory / item))
        else:
            rules.append(parse_rule(item, source, position))
    return merge_rules(rules)


def _secret_file(reader: _Reader, key: str, base: Path, what: str) -> str | None:
    """Read a secret from the file `key` names; faults name the file, never its content."""
    if reader.node.get(key) is None:
        return None
    raw = reader.node[key]
    if isinstance(raw, (list, dict)):
        raise reader.fail(key, f"is {shown(raw)}; expected a file path")
    path = base / str(raw)
    try:
        secret = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise reader.fail(key, f"cannot be read ({shown_path(path)}: {exc.strerror})") from exc
    except UnicodeDecodeError as exc:
        raise reader.fail(key, f"names a file that is not UTF-8 text ({shown_path(path)})") from exc
    if not secret:
        raise reader.fail(
            key, f"names an empty file ({shown_path(path)}); write the {what} into it"
        )
    return secret


def _token(reader: _Reader, base: Path) -> str | None:
    if "token" in reader.node and "token_file" in reader.node:
        raise reader.fail("token_file", "is given with 'token'; keep only one of them")
    if reader.node.get("token") is not None:
        if not isinstance(reader.node["token"], str) or not reader.node["token"].strip():
            raise reader.fail("token", "must be a non-empty string")
        return str(reader.node["token"]).strip()
    return _secret_file(reader, "token_file", base, "token")


def _basic_auth(reader: _Reader, base: Path) -> tuple[str | None, str | None]:
    """Read `username` and `password_file`: both or neither, and not with a bearer token."""
    given = [key for key in ("username", "password_file") if reader.node.get(key) is not None]
    if not given:
        return None, None
    if len(given) == 1:
        other = "password_file" if given[0] == "username" else "username"
        raise reader.fail(given[0], f"is given without '{other}'; basic auth needs both")
    for key in ("token", "token_file"):
        if reader.node.get(key) is not None:
            raise reader.fail(key, "is given with 'username'; use a token or basic auth, not both")
    username = reader.node["username"]
    if not isinstance(username, str) or not username or ":" in username:
        raise reader.fail("username", f"is {shown(username)}; expected a user name without ':'")
    return username, _secret_file(reader, "password_file", base, "password")


def _tls(reader: _Reader, base: Path) -> TlsConfig | None:
    """Read `ca_file`, `cert_file` and `key_file`, loading each as a connection will."""
    paths = {
        key: reader.parsed(key, lambda value: base / _text(value), None, "a file path")
        for key in ("ca_file", "cert_file", "key_file")
        if reader.node.get(key) is not None
    }
    if not paths:
        return None
    # Loaded only for a config that names TLS files: the agent's memory budget is tight.
    from tocsin.agent.tls import TlsConfig, check_ca_file, check_client_pair

    if "key_file" in paths and "cert_file" not in paths:
        raise reader.fail("key_file", "is given without 'cert_file'; name the client certificate")
    if "ca_file" in paths:
        try:
            check_ca_file(paths["ca_file"])
        except ValueError as exc:
            raise reader.fail("ca_file", str(exc)) from None
    if "cert_file" in paths:
        try:
            check_client_pair(paths["cert_file"], paths.get("key_file"))
        except ValueError as exc:
            raise reader.fail("cert_file", str(exc)) from None
    return TlsConfig(paths.get("ca_file"), paths.get("cert_file"), paths.get("key_file"))


def _host_port(url: str) -> str:
    """Name a receiver by its URL's host and port, the name its spool and metrics carry."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.hostname}:{port}"


def _web(reader: _Reader, base: Path) -> WebConfig | None:
    """Read the file `web_config_file` names: TLS and basic auth for /metrics."""
    path = reader.parsed("web_config_file", lambda value: base / _text(value), None, "a path")
    if path is None:
        return None
    # Loaded only for a config that names one: the agent's memory budget is tight.
    from tocsin.agent.webconfig import load_web_config

    return load_web_config(path)


def _checks(reader: _Reader, base: Path) -> tuple[CheckSpec, ...]:
    """Read the `checks:` list of service checks."""
    raw = reader.node.get("checks")
    if raw is None:
        return ()
    # Loaded only for a config with checks: the agent's memory budget is tight.
    from tocsin.agent.checks.spec import parse_checks

    return parse_checks(raw, reader.source_of("checks"), reader.node.line_of("checks"), base)


def _receiver_name(value: Any) -> str:
    name = _text(value)
    if not _RECEIVER_NAME.fullmatch(name) or name in (".", ".."):
        raise ValueError("bad name")
    return name


def _receivers(reader: _Reader, base: Path) -> tuple[PushConfig, ...]:
    """Read `push`: one receiver (a mapping) or several (a list), each named once."""
    raw = reader.node.get("push")
    if raw is None:
        return ()
    if isinstance(raw, list):
        if not raw or not all(isinstance(item, LinedDict) for item in raw):
            raise reader.fail(
                "push", f"is {shown(raw)}; expected a receiver mapping, or a list of them"
            )
        source = reader.source_of("push")
        readers = [_Reader(source, item, f"push[{i}].") for i, item in enumerate(raw)]
    else:
        child = reader.child("push")
        assert child is not None
        readers = [child]
    receivers: list[PushConfig] = []
    names: set[str] = set()
    for index, item in enumerate(readers):
        push = _push(item, base)
        if push.label in names:
            raise item.fail(
                "name" if "name" in item.node else "url",
                f"repeats receiver {push.label!r}; give each receiver its own 'name'",
            )
        names.add(push.label)
        subdir = "" if index == 0 else push.label.replace(":", "_")
        receivers.append(replace(push, subdir=subdir))
    return tuple(receivers)


def _push(reader: _Reader, base: Path) -> PushConfig:
    reader.check_keys(_PUSH_KEYS)
    if reader.node.get("url") is None:
        raise reader.fail(
            "url", "is missing; give the receiver's base URL, e.g. http://bridge:8080"
        )
    username, password = _basic_auth(reader, base)
    return PushConfig(
        name=reader.parsed("name", _receiver_name, "", "a name of letters, digits, '.', '_', '-'"),
        username=username,
        password=password,
        tls=_tls(reader, base),
        url=reader.parsed("url", _url, None, "an http:// or https:// URL", _shown_url),
        token=_token(reader, base),
        resend=reader.parsed("resend", _positive_duration, DEFAULT_RESEND, "a duration like '1m'"),
        timeout=reader.parsed(
            "timeout", _positive_duration, DEFAULT_PUSH_TIMEOUT, "a duration like '10s'"
        ),
        max_batch=reader.parsed(
            "max_batch", _count, DEFAULT_MAX_BATCH, "a whole number of alerts from 1, e.g. 500"
        ),
        max_rate=reader.parsed(
            "max_rate", _rate, DEFAULT_MAX_RATE, "alerts per second above 0, e.g. 1000"
        ),
        clock_skew=reader.parsed(
            "clock_skew", _duration, DEFAULT_CLOCK_SKEW, "a duration like '10m' or '0s'"
        ),
    )


def _names(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError("not a list of names")
    return tuple(value)


def _disabled(reader: _Reader) -> tuple[str, ...]:
    """Return the collectors switched off by `collectors: {name: false}`."""
    reader.check_keys(COLLECTORS)
    disabled = []
    for name in reader.node:
        if not isinstance(reader.node[name], bool):
            raise reader.fail(name, f"is {shown(reader.node[name])}; expected true or false")
        if not reader.node[name]:
            disabled.append(name)
    return tuple(disabled)


def _sampler(reader: _Reader, base: Path) -> SamplerConfig:
    regex = "a regular expression such as '^(lo|docker.*)$'"
    options: dict[str, Any] = {}
    filesystems = reader.child("filesystems")
    if filesystems is not None:
        filesystems.check_keys(_FS_KEYS)
        names = "a list of filesystem types such as [nfs4, tmpfs]"
        options.update(
            include_fstypes=filesystems.parsed("include_fstypes", _names, None, names),
            exclude_fstypes=filesystems.parsed("exclude_fstypes", _names, None, names),
            exclude_mountpoints=filesystems.parsed("exclude_mountpoints", _regex, None, regex),
            fs_timeout=filesystems.parsed(
                "timeout", _positive_duration, None, "a duration like '2s'"
            ),
        )
    collectors = reader.child("collectors")
    if collectors is not None:
        options["disabled"] = _disabled(collectors)
    textfile = reader.child("textfile")
    if textfile is not None:
        textfile.check_keys(("directory",))
        options["textfile_directory"] = textfile.parsed(
            "directory", lambda value: str(base / _text(value)), None, "a directory path"
        )
    for section, noun in (("disks", "devices"), ("interfaces", "interfaces")):
        names_reader = reader.child(section)
        if names_reader is not None:
            names_reader.check_keys(_NAME_KEYS)
            options[f"include_{noun}"] = names_reader.parsed("include", _regex, None, regex)
            options[f"exclude_{noun}"] = names_reader.parsed("exclude", _regex, None, regex)
    return SamplerConfig(**options)


def _spool(reader: _Reader | None, base: Path, state_dir: Path) -> SpoolConfig:
    if reader is None:
        return SpoolConfig(dir=state_dir / "spool")
    reader.check_keys(_SPOOL_KEYS)
    return SpoolConfig(
        dir=reader.parsed("dir", lambda value: base / _text(value), state_dir / "spool", "a path"),
        max_bytes=reader.parsed(
            "max_bytes", parse_size, DEFAULT_SPOOL_BYTES, "a size such as '64MiB'"
        ),
        dead_letters=reader.parsed(
            "dead_letters", _count, DEFAULT_DEAD_LETTERS, "a whole number of alerts from 1"
        ),
    )


def _build(
    source: str,
    node: LinedDict,
    base: Path,
    env: Mapping[str, str],
    hostname: str,
    listen: tuple[str, int] | None,
) -> AgentConfig:
    reader = _Reader(source, node)
    reader.check_keys(_TOP_KEYS)
    state_dir = reader.parsed(
        "state_dir",
        lambda value: base / _text(value),
        default_state_dir(env, os.geteuid() == 0),
        "a directory path",
    )
    receivers = _receivers(reader, base)
    push = receivers[0] if receivers else None
    config = AgentConfig(
        source=source,
        state_dir=state_dir,
        spool=_spool(reader.child("spool"), base, state_dir),
        instance=reader.parsed("hostname", _hostname, hostname, "a host name, 'fqdn' or 'short'"),
        rules=_rules(reader, base),
        interval=reader.parsed(
            "interval", _positive_duration, DEFAULT_INTERVAL, "a duration like '10s'"
        ),
        listen=reader.parsed("listen", _listen, None, "host:port such as 127.0.0.1:10042")
        if "listen" in node
        else listen,
        labels=_labels(reader),
        push=push,
        more_push=receivers[1:],
        heartbeat=None
        if push is None
        else reader.parsed(
            "heartbeat", _positive_duration, DEFAULT_HEARTBEAT, "a duration like '30s'"
        ),
        sampler=_sampler(reader, base),
        external_url=reader.parsed(
            "external_url", _url, None, "the agent's http:// or https:// URL", _shown_url
        ),
        web=_web(reader, base),
        checks=_checks(reader, base),
    )
    _check_label_counts(config)
    return config


def config_warnings(config: AgentConfig) -> list[str]:
    """Name what a config silently turns off: alerting (no rules), or /metrics (no listen)."""
    warnings = []
    if not config.rules:
        warnings.append(
            "'rules' is empty: this host raises no alerts (omit it for the bundled rules)"
        )
    if config.listen is None:
        warnings.append("no 'listen': /metrics is not served (add e.g. 'listen: 127.0.0.1:10042')")
    return warnings


def load_config(
    path: Path, env: Mapping[str, str] | None = None, hostname: str | None = None
) -> AgentConfig:
    """Read and validate a whole config file; raise ConfigError naming file:line and key.

    An empty file (nothing but comments or blanks) is refused rather than read as the defaults.
    As the contract says, a file without `listen` serves no /metrics; only running without
    any file serves it on the default 127.0.0.1:10042 (DEFAULT_LISTEN).
    """
    environment = os.environ if env is None else env
    document = read_with_includes(path, environment)
    if document is None:
        # A truncated or blanked file would otherwise run on the defaults and silently not push.
        raise ConfigError(
            f"{path}: the file is empty; write at least one key, "
            "or run without --config to use the defaults"
        )
    if not isinstance(document, LinedDict):
        raise ConfigError(f"{path}: expected a mapping of settings such as 'interval: 10s'")
    return _build(
        str(path),
        document,
        path.parent,
        environment,
        hostname or socket.gethostname(),
        None,
    )


def default_config(
    env: Mapping[str, str] | None = None, hostname: str | None = None
) -> AgentConfig:
    """Return the config used without a file: bundled rules, /metrics on 127.0.0.1:10042, no push."""
    document = LinedDict()
    document.key_lines = {}
    return _build(
        "defaults",
        document,
        Path.cwd(),
        os.environ if env is None else env,
        hostname or socket.gethostname(),
        DEFAULT_LISTEN,
    )
