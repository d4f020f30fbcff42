"""A real IMAP server (Debian's Dovecot) on 127.0.0.1, private to one test run, with a test CA.

Run as root it keeps its own base_dir and mail under a fresh temporary directory, checks
passwords in its own passwd-file and stores mail as `nobody`; no system service is touched.
"""

from __future__ import annotations

import getpass
import imaplib
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.bridge.notify.smtpserver import free_port
from tests.peers import require_binary

USER, PASSWORD = "desk", "imap-pass-Secret7"
START_SECONDS = 30.0


@dataclass(frozen=True)
class Dovecot:
    """A running server: its IMAPS and IMAP (STARTTLS) ports and the CA that signed its cert."""

    imaps_port: int
    imap_port: int
    ca_file: Path
    root: Path

    def client(self) -> imaplib.IMAP4_SSL:
        """Return a logged-in IMAPS client, as a person's mail program would be."""
        context = ssl.create_default_context(cafile=str(self.ca_file))
        box = imaplib.IMAP4_SSL("127.0.0.1", self.imaps_port, ssl_context=context, timeout=30)
        box.login(USER, PASSWORD)
        return box


def ca_and_cert(directory: Path) -> tuple[Path, Path, Path]:
    """Return (ca, cert, key): a CA and a server cert for 127.0.0.1 it signed, made by openssl."""
    openssl = require_binary("openssl")
    ca, ca_key = directory / "ca.pem", directory / "ca.key"
    cert, key, csr = directory / "cert.pem", directory / "key.pem", directory / "cert.csr"
    ext = directory / "cert.ext"
    ext.write_text("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n")
    curve = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    for command in (
        [openssl, "req", "-x509", *curve, "-days", "1", "-keyout", str(ca_key), "-out", str(ca),
         "-subj", "/CN=Tocsin test CA", "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign"],
        [openssl, "req", *curve, "-keyout", str(key), "-out", str(csr), "-subj", "/CN=127.0.0.1"],
        [openssl, "x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key),
         "-CAcreateserial", "-days", "1", "-out", str(cert), "-extfile", str(ext)],
    ):  # fmt: skip
        subprocess.run(command, check=True, capture_output=True, timeout=60)
    return ca, cert, key


def config(root: Path, cert: Path, key: Path, imaps_port: int, imap_port: int) -> str:
    """Return a Dovecot config that reads and writes only below `root`."""
    if os.geteuid() == 0:
        # Dovecot never stores mail as root; its auth process reads our passwd-file as root.
        users = "userdb {\n  driver = static\n  args = uid=nobody gid=nogroup\n}\n"
        users += "service auth {\n  user = root\n}\n"
    else:
        me = getpass.getuser()
        users = f"default_login_user = {me}\ndefault_internal_user = {me}\n"
        users += f"userdb {{\n  driver = static\n  args = uid={os.getuid()} gid={os.getgid()}\n}}\n"
    return f"""
base_dir = {root}/run
state_dir = {root}/state
instance_name = tocsin-test-{root.name}
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
first_valid_uid = 1
ssl = required
ssl_cert = <{cert}
ssl_key = <{key}
disable_plaintext_auth = yes
auth_mechanisms = plain
mail_location = maildir:{root}/mail/%u
mail_home = {root}/mail/%u
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap_port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps_port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
{users}"""


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@contextmanager
def dovecot() -> Iterator[Dovecot]:
    """Start Dovecot in the foreground of a fresh directory; stop it and remove it after."""
    binary = require_binary("dovecot", "/usr/sbin/dovecot")
    root = Path(tempfile.mkdtemp(prefix="tocsin-dovecot-"))
    root.chmod(0o711)  # the mail user (nobody) must reach its mail directory below
    try:
        ca, cert, key = ca_and_cert(root)
        (root / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
        for name in ("run", "state", "mail"):
            (root / name).mkdir()
        if os.geteuid() == 0:
            shutil.chown(root / "mail", "nobody", "nogroup")
        imaps_port, imap_port = free_port(), free_port()
        conf = root / "dovecot.conf"
        conf.write_text(config(root, cert, key, imaps_port, imap_port))
        with (root / "stderr.log").open("wb") as stderr:
            process = subprocess.Popen([binary, "-F", "-c", str(conf)], stderr=stderr)
        try:
            deadline = time.monotonic() + START_SECONDS
            while not (_listening(imaps_port) and _listening(imap_port)):
                if process.poll() is not None or time.monotonic() > deadline:
                    log = (root / "stderr.log").read_text(errors="replace")
                    raise RuntimeError(f"dovecot did not start: {log[-2000:]}")
                time.sleep(0.1)
            yield Dovecot(imaps_port, imap_port, ca, root)
        finally:
            process.terminate()
            process.wait(timeout=30)
    finally:
        shutil.rmtree(root, ignore_errors=True)
