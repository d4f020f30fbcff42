"""The `mailin:` config section: every key validated, each fault naming file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from tocsin.bridge.cli import main
from tocsin.bridge.errors import ConfigError
from tocsin.bridge.mailin.rules import check_against, sort_mail
from tocsin.bridge.platform.config import load_config, parse_config
from tocsin.bridge.policy.load import load_policy


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bridge.yml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_full_section_is_read(tmp_path: Path) -> None:
    (tmp_path / "imap.pass").write_text("s3cret\n")
    (tmp_path / "ca.pem").write_text("pem")
    config = load_config(
        write(
            tmp_path,
            """
mailin:
  max_bytes: 2MiB
  rules:
    - {sender_domain: bank.example.com, team: bank}
    - {subject: "urgent|紧急", priority: P1}
  smtp: {listen: "127.0.0.1:2525", protocol: lmtp, recipients: [Help@Desk.example.com]}
  imap: {host: imap.example.com, username: desk, password_file: imap.pass, ca_file: ca.pem,
         security: starttls, refused_folder: Refused, interval: 30s}
""",
        )
    )
    mailin = config.mailin
    assert mailin is not None and mailin.max_bytes == 2 * 1024 * 1024
    assert mailin.smtp is not None and mailin.smtp.recipients == ("help@desk.example.com",)
    assert mailin.imap is not None
    assert (mailin.imap.port, mailin.imap.password, mailin.imap.interval) == (143, "s3cret", 30.0)
    assert "s3cret" not in repr(mailin)
    sorted_ = sort_mail(mailin, "branch.bank.example.com", "紧急：转账失败")
    assert (sorted_.priority, sorted_.team) == ("P1", "bank")
    assert sort_mail(mailin, "other.example.com", "question").priority == "P3"


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ("mailin: {max_bytes: 10MiB}", "bridge.yml:2: mailin: give smtp, imap or both"),
        ("mailin:\n  smtp: {listen: nowhere}", "bridge.yml:3: mailin.smtp.listen: 'nowhere' is not HOST:PORT"),
        ("mailin:\n  smtp: {listen: '127.0.0.1:25', protocol: pop3}", "mailin.smtp.protocol: 'pop3' is not one of smtp, lmtp"),
        ("mailin:\n  imap: {host: h, username: u}", "bridge.yml:3: mailin.imap: give password_file"),
        ("mailin:\n  imap: {host: h, username: u, password: p, ca_file: none.pem}", "mailin.imap.ca_file: "),
        ("mailin:\n  smtp: {listen: '127.0.0.1:25', require_tls: true}", "bridge.yml:3: mailin.smtp.require_tls: needs tls_cert and tls_key"),
        ("mailin:\n  smtp: {listen: '127.0.0.1:25', tls_cert: none.pem, tls_key: none.key}", "mailin.smtp.tls_cert: "),
        ("mailin:\n  imap: {host: h, username: u, password: p, batch: 0}", "mailin.imap.batch: 0 must be"),
        ("mailin:\n  smtp: {listen: '127.0.0.1:25'}\n  rules:\n    - {subject: '(', priority: P1}", "bridge.yml:5: mailin.rules[0].subject: '(' is not a regular expression"),
        ("mailin:\n  smtp: {listen: '127.0.0.1:25'}\n  rules:\n    - {priority: P1}", "bridge.yml:5: mailin.rules[0]: a rule needs sender_domain, subject"),
        ("mailin:\n  smtp: {listen: '127.0.0.1:25'}\n  rulez: []", "bridge.yml:4: mailin.rulez: unknown key"),
    ],
)  # fmt: skip
def test_a_bad_setting_names_file_line_and_key(tmp_path: Path, section: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, "\n" + section + "\n"))
    assert message in caught.value.message and caught.value.exit_code == 78


def test_a_password_never_appears_in_an_error() -> None:
    raw = {"mailin": {"imap": {"host": "h", "username": "u", "password": "hunter2", "port": "x"}}}
    with pytest.raises(ConfigError) as caught:
        parse_config(raw, "bridge.yml")
    assert "hunter2" not in caught.value.message


def test_a_priority_or_team_the_policy_lacks_is_found(tmp_path: Path) -> None:
    config = load_config(
        write(
            tmp_path,
            "mailin:\n  smtp: {listen: '127.0.0.1:2525'}\n  rules:\n    - {subject: x, priority: P7}\n"
            "    - {sender_domain: a.example, team: nobody-such}\n",
        )
    )
    assert config.mailin is not None
    faults = check_against(config.mailin, load_policy(None))
    assert len(faults) == 2 and "bridge.yml:4: mailin.rules[0].priority: 'P7'" in faults[0]
    assert "bridge.yml:5: mailin.rules[1].team: 'nobody-such' is not a team" in faults[1]


def test_check_config_summarises_mail_and_refuses_an_unknown_priority(tmp_path: Path) -> None:
    good = write(
        tmp_path,
        "mailin:\n  smtp: {listen: '127.0.0.1:2525'}\n  imap: {host: imap.example.com,"
        " username: desk, password: hunter2}\n  rules:\n    - {subject: urgent, priority: P1}\n",
    )
    result = CliRunner().invoke(main, ["check-config", str(good)])
    assert result.exit_code == 0, result.output
    assert (
        "mailin: smtp on 127.0.0.1:2525, imap desk@imap.example.com:993 (imaps) INBOX;"
        " 1 rules, default P3" in result.output
    )
    assert "hunter2" not in result.output
    bad = tmp_path / "bad.yml"
    bad.write_text("mailin:\n  smtp: {listen: '127.0.0.1:2525'}\n  priority: P9\n")
    refused = CliRunner().invoke(main, ["check-config", str(bad)])
    assert refused.exit_code == 78
    assert "bad.yml:3: mailin.priority: 'P9' is not a priority" in refused.output
