"""Receivers in the config (credentials, TLS files, a list of them) and fan-out to each."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.agent.certs import Pki, make_pki
from tests.agent.fakes import Receiver
from tests.agent.test_daemon import Rig, make_config
from tocsin.agent.config import PushConfig, load_config
from tocsin.agent.errors import ConfigError

ENV = {"HOME": "/home/test"}


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def load(tmp_path: Path, text: str) -> object:
    path = tmp_path / "agent.yml"
    path.write_text(text)
    return load_config(path, env=ENV, hostname="web1")


def test_basic_auth_reads_the_password_file_and_never_shows_it(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("s3cret-pw\n")
    config = load(tmp_path, "push: {url: 'https://am:9093', username: tocsin, password_file: pw}\n")
    push = config.push  # type: ignore[attr-defined]
    assert push.auth == ("tocsin", "s3cret-pw")
    assert "s3cret-pw" not in repr(config)


def test_tls_files_are_read_relative_to_the_config(tmp_path: Path, pki: Pki) -> None:
    config = load(
        tmp_path,
        f"push: {{url: 'https://am:9093', ca_file: {pki.ca}, cert_file: {pki.client_cert}, "
        f"key_file: {pki.client_key}}}\n",
    )
    tls = config.push.tls  # type: ignore[attr-defined]
    assert tls.verify() == str(pki.ca)
    assert tls.cert() == (str(pki.client_cert), str(pki.client_key))


@pytest.mark.parametrize(
    ("push", "expected"),
    [
        ("{url: 'http://a', username: u}", "'push.username' is given without 'password_file'"),
        ("{url: 'http://a', password_file: pw}", "'push.password_file' is given without"),
        (
            "{url: 'http://a', token: t, username: u, password_file: pw}",
            "'push.token' is given with 'username'",
        ),
        ("{url: 'http://a', username: 'a:b', password_file: pw}", "'push.username' is 'a:b'"),
        ("{url: 'http://a', ca_file: missing.pem}", "'push.ca_file' names a missing file"),
        ("{url: 'http://a', ca_file: pw}", "'push.ca_file' holds no PEM certificate"),
        ("{url: 'http://a', cert_file: pw}", "'push.cert_file' is no PEM certificate"),
        ("{url: 'http://a', key_file: pw}", "'push.key_file' is given without 'cert_file'"),
        ("[]", "'push' is []; expected a receiver mapping, or a list of them"),
        ("[{url: 'http://a:1'}, {url: 'http://a:1'}]", "'push[1].url' repeats receiver 'a:1'"),
        ("[{url: 'http://a', name: x}, {url: 'http://b', name: x}]", "'push[1].name' repeats"),
        ("[{url: 'http://a'}, {url: 'ftp://b'}]", ":1: 'push[1].url' is 'ftp://b'"),
        ("{url: 'http://a', name: '../x'}", "'push.name' is '../x'"),
    ],
)
def test_bad_receivers_are_refused_naming_the_key(
    tmp_path: Path, pki: Pki, push: str, expected: str
) -> None:
    (tmp_path / "pw").write_text("s3cret-pw\n")
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, f"push: {push}\n")
    assert expected in str(caught.value)
    assert "s3cret-pw" not in str(caught.value)


def test_a_list_of_receivers_keeps_the_first_spool_where_one_receiver_had_it(
    tmp_path: Path,
) -> None:
    config = load(
        tmp_path,
        "spool: {dir: spool}\npush:\n  - {url: 'https://am1.example.com:9093'}\n"
        "  - {url: 'https://am2.example.com:9093'}\n  - {url: 'http://bridge:8080', name: bridge}\n",
    )
    receivers = config.receivers  # type: ignore[attr-defined]
    assert [push.label for push in receivers] == [
        "am1.example.com:9093",
        "am2.example.com:9093",
        "bridge",
    ]
    assert [config.spool_dir(push) for push in receivers] == [  # type: ignore[attr-defined]
        tmp_path / "spool",
        tmp_path / "spool" / "am2.example.com_9093",
        tmp_path / "spool" / "bridge",
    ]


def test_every_receiver_gets_every_alert_from_its_own_spool(tmp_path: Path) -> None:
    first = Receiver().start()
    second = Receiver().start()
    port = second.port
    second.stop()
    config = make_config(
        tmp_path,
        first,
        more_push=(PushConfig(f"http://127.0.0.1:{port}", name="second", subdir="second"),),
    )
    rig = Rig(config)
    try:
        assert rig.agent.delivery is not None
        pushers = rig.agent.delivery.pushers

        def cycle(seconds: float, value: float) -> None:
            rig.at(seconds, value)
            for pusher in pushers[1:]:
                pusher.step()

        cycle(0, 0.95)
        cycle(60, 0.95)
        assert [a["labels"]["alertname"] for a in first.alerts()] == ["HostCpuHigh"]
        assert pushers[1].spool.directory == tmp_path / "spool" / "second"
        assert pushers[1].spool.depth == 1
        rig.agent.exposition.refresh()
        body = rig.agent.exposition.body(gzipped=False).decode()
        assert 'tocsin_agent_receiver_up{receiver="second"} 0.0' in body
        assert f'tocsin_agent_receiver_up{{receiver="127.0.0.1:{first.port}"}} 1.0' in body

        back = Receiver(port=port).start()
        try:
            cycle(1, 0.95)
            assert [a["labels"]["alertname"] for a in back.alerts()] == ["HostCpuHigh"]
            assert back.alerts()[0]["startsAt"] == first.alerts()[0]["startsAt"]
            assert pushers[1].spool.depth == 0
        finally:
            back.stop()
    finally:
        rig.agent.stop()
        first.stop()


def test_the_dead_letters_command_reads_every_receivers_file(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from tocsin.agent.cli import main
    from tocsin.agent.deadletters import DeadLetter, DeadLetters, file_name
    from tocsin.agent.push import WireAlert

    config = tmp_path / "agent.yml"
    config.write_text(
        f"state_dir: {tmp_path}\nlisten: null\n"
        "push: [{url: 'http://am1:9093'}, {url: 'http://am2:9093', name: am2}]\n"
    )
    for subdir, name in (("", "OnFirst"), ("am2", "OnSecond")):
        alert = WireAlert((("alertname", name),), (), 1.7e9)
        letter = DeadLetter(1.7e9 + 1, "http_400", "refused", alert, True)
        DeadLetters(tmp_path / file_name(subdir)).add([letter])
    listed = CliRunner().invoke(main, ["dead-letters", "--config", str(config)])
    assert listed.exit_code == 0
    assert "OnFirst" in listed.stdout and "OnSecond" in listed.stdout
    assert "dead-letters.am2.jsonl" in listed.stdout
