"""TLS towards the receiver: which CAs to trust, the client certificate, and why a handshake failed.

By default the agent trusts the system's store (what `ssl.get_default_verify_paths()` names,
so SSL_CERT_FILE and SSL_CERT_DIR work as for curl and openssl), not the CA bundle a Python
package happens to ship. `ca_file` replaces it with the CAs in that one file, as Prometheus'
`tls_config.ca_file` does. Files are loaded once at config time, so a wrong path or a file
that is no PEM is a config fault naming the key, not a failed push hours later.
"""

from __future__ import annotations

import re
import ssl
from dataclasses import dataclass, field
from pathlib import Path

_REASON = re.compile(r"\[SSL: ([A-Z0-9_]+)\] ([^'\"]+?)(?: \(_ssl\.c:\d+\))?['\"]")
_HINTS = {
    "CERTIFICATE_VERIFY_FAILED": "set push.ca_file to the CA that signed the receiver's certificate",
    "TLSV13_ALERT_CERTIFICATE_REQUIRED": "the receiver wants a client certificate: "
    "set push.cert_file and push.key_file",
    "SSLV3_ALERT_BAD_CERTIFICATE": "the receiver refused the client certificate",
    "TLSV1_ALERT_UNKNOWN_CA": "the receiver does not trust the client certificate's CA",
    "WRONG_VERSION_NUMBER": "the receiver does not speak TLS on this port: use http://",
}


@dataclass(frozen=True)
class TlsConfig:
    """What a push connection trusts and presents; the defaults trust the system store."""

    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = field(default=None, repr=False)

    def verify(self) -> str | bool:
        """Return the `verify` requests takes: the CA file, or the system store."""
        return str(self.ca_file) if self.ca_file is not None else system_trust()

    def cert(self) -> tuple[str, str] | str | None:
        """Return the `cert` requests takes: the client certificate and key, or None."""
        if self.cert_file is None:
            return None
        if self.key_file is None:
            return str(self.cert_file)
        return (str(self.cert_file), str(self.key_file))


def system_trust() -> str | bool:
    """Return the system's CA file (or directory); True (the library's bundle) if it has none."""
    paths = ssl.get_default_verify_paths()
    return paths.cafile or paths.capath or True


def check_ca_file(path: Path) -> None:
    """Load a CA file as the push will; raise ValueError saying why it cannot be used."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        context.load_verify_locations(cafile=str(path))
    except ssl.SSLError as exc:  # an OSError too: caught first
        raise ValueError(f"holds no PEM certificate ({path}: {exc.reason})") from exc
    except FileNotFoundError as exc:
        raise ValueError(f"names a missing file ({path})") from exc
    except OSError as exc:
        raise ValueError(f"cannot be read ({path}: {exc.strerror})") from exc


def check_client_pair(cert: Path, key: Path | None) -> None:
    """Load a client certificate and key as the push will; raise ValueError saying why not."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        context.load_cert_chain(str(cert), None if key is None else str(key), password=b"")
    except ssl.SSLError as exc:  # an OSError too: caught first
        # The reason only: OpenSSL's text never holds key material.
        raise ValueError(
            f"is no PEM certificate with its unencrypted private key ({exc.reason or exc})"
        ) from exc
    except FileNotFoundError as exc:
        raise ValueError(f"names a missing file ({exc.filename or cert})") from exc
    except OSError as exc:
        raise ValueError(f"cannot be read ({exc.filename or cert}: {exc.strerror})") from exc


def tls_failure(text: str) -> str:
    """Say why a TLS handshake failed, from the library's long error text, with the fix."""
    found = _REASON.search(text)
    if found is not None:
        code, reason = found.groups()
        hint = _HINTS.get(code)
        return f"TLS handshake failed: {reason}" + (f" ({hint})" if hint else "")
    if "EOF occurred in violation of protocol" in text:
        return (
            "TLS handshake failed: the receiver closed the connection "
            "(does it want a client certificate? set push.cert_file and push.key_file)"
        )
    return "TLS handshake failed"
