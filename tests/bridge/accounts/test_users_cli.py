"""`tocsin-bridge users`: set a password from stdin or a prompt, print an invite link, list people."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from click.testing import CliRunner

from tests.bridge.helpers import FakeClock, config_for, make_runtime
from tocsin.bridge.cli import main

PASSWORD = "correct horse battery"


def _config(tmp_path: Path) -> tuple[Path, str]:
    url = f"sqlite:///{tmp_path / 'tocsin.db'}"
    make_runtime(url, FakeClock()).store.dispose()
    config = tmp_path / "bridge.yml"
    config.write_text(
        f"database_url: {url}\nsecret_key: cli-secret\npublic_url: https://oncall.example\n"
        "tokens: [{name: alice, role: operator, value: operator-secret}]\n"
    )
    return config, url


def test_set_password_from_stdin_lets_the_person_sign_in(tmp_path: Path) -> None:
    config, url = _config(tmp_path)
    result = CliRunner().invoke(
        main,
        ["users", "set-password", "primary", "--password-stdin", "--config", str(config)],
        input=PASSWORD + "\n",
    )
    assert result.exit_code == 0, result.output
    runtime = make_runtime(url, FakeClock())
    assert runtime.accounts.check_password("primary", PASSWORD, None).role == "responder"
    runtime.store.dispose()


def test_set_password_prompts_twice_and_refuses_a_mismatch(tmp_path: Path) -> None:
    config, _ = _config(tmp_path)
    args = ["users", "set-password", "primary", "--config", str(config)]
    result = CliRunner().invoke(main, args, input=f"{PASSWORD}\nsomething else\n")
    assert result.exit_code != 0


def test_a_short_password_is_refused_in_one_line(tmp_path: Path) -> None:
    config, _ = _config(tmp_path)
    args = ["users", "set-password", "primary", "--password-stdin", "--config", str(config)]
    result = CliRunner().invoke(main, args, input="short\n")
    assert result.exit_code == 2
    assert "at least 10 characters" in result.output


def test_invite_prints_a_link_under_the_public_url(tmp_path: Path) -> None:
    config, url = _config(tmp_path)
    result = CliRunner().invoke(main, ["users", "invite", "expert", "--config", str(config)])
    assert result.exit_code == 0, result.output
    link = result.output.strip()
    assert link.startswith("https://oncall.example/invite/")
    config_used = dataclasses.replace(config_for(url), secret_key=b"cli-secret")
    runtime = make_runtime(url, FakeClock(), config=config_used)
    assert runtime.accounts.invitee(link.rsplit("/", 1)[1]) == "expert"
    runtime.store.dispose()


def test_add_then_list_shows_the_person_and_role(tmp_path: Path) -> None:
    config, _ = _config(tmp_path)
    added = CliRunner().invoke(
        main, ["users", "add", "dana", "--role", "service_desk", "--config", str(config)]
    )
    assert added.exit_code == 0, added.output
    listed = CliRunner().invoke(main, ["users", "list", "--config", str(config)])
    assert "dana\tservice_desk\tadded\tno password" in listed.output
    assert "manager\tmanager\tpolicy" in listed.output


def test_disable_signs_the_person_out_and_keeps_them_out(tmp_path: Path) -> None:
    config, url = _config(tmp_path)
    runtime = make_runtime(url, FakeClock())
    runtime.accounts.set_password("primary", PASSWORD)
    runtime.accounts.open_session("primary", "password", None)
    result = CliRunner().invoke(main, ["users", "disable", "primary", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert runtime.accounts.sessions_of("primary") == []
    assert runtime.accounts.role_of("primary") is None
    CliRunner().invoke(main, ["users", "enable", "primary", "--config", str(config)])
    assert runtime.accounts.role_of("primary") == "responder"
    runtime.store.dispose()
