"""Reading mail: Chinese charsets decoded right, HTML reduced to text, the unreadable refused."""

from __future__ import annotations

import pytest

from tests.bridge.mailin.mails import mail, malformed, with_attachment
from tocsin.bridge.errors import MailRefused
from tocsin.bridge.mailin.parse import Attachment, parse_mail, read_mail
from tocsin.bridge.mailin.text import html_to_text, reply_text

LIMIT = 1024 * 1024


def parsed(raw: bytes):  # type: ignore[no-untyped-def]
    return parse_mail(read_mail(raw, LIMIT))


@pytest.mark.parametrize(
    ("charset", "subject", "body"),
    [
        ("gb18030", "紧急：工资系统宕机", "今天九点以后无法登录，错误码 𠀀。"),
        ("gbk", "服务器故障", "数据库连接超时"),
        ("big5", "緊急：薪資系統當機", "今天九點以後無法登入。"),
        ("utf-8", "Réseau en panne", "Plus d'accès depuis 9h."),
    ],
)
def test_subject_body_and_name_are_decoded_from_their_charset(
    charset: str, subject: str, body: str
) -> None:
    got = parsed(mail(subject, body, charset=charset, name="王力"))
    assert (got.subject, got.text, got.sender_name) == (subject, body, "王力")


def test_a_gb2312_label_is_read_as_gb18030() -> None:
    # Clients label GBK text gb2312; 镕 is GBK, not GB2312.
    raw = (
        b"From: a@b.example\r\nSubject: x\r\nContent-Type: text/plain; charset=gb2312\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n\r\n" + "朱镕基".encode("gbk") + b"\r\n"
    )
    assert parsed(raw).text == "朱镕基"


def test_bytes_the_charset_cannot_read_refuse_the_mail() -> None:
    raw = (
        b"From: a@b.example\r\nSubject: x\r\nContent-Type: text/plain; charset=big5\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n\r\n\xff\xff\xff\r\n"
    )
    with pytest.raises(MailRefused) as refused:
        parsed(raw)
    assert refused.value.reason == "charset"


def test_an_unknown_charset_refuses_the_mail() -> None:
    raw = mail("x", "y").replace(b'charset="utf-8"', b'charset="x-klingon"')
    with pytest.raises(MailRefused, match="unknown charset 'x-klingon'"):
        parsed(raw)


def test_an_html_only_mail_becomes_text_without_markup() -> None:
    html = (
        "<html><head><style>p{color:red}</style><title>t</title></head><body>"
        "<p>Disk <b>full</b> on db1&nbsp;&amp; db2</p><script>alert(1)</script>"
        "<ul><li>one</li><li>two</li></ul><img src=x onerror=alert(2)></body></html>"
    )
    text = parsed(mail(body=html, subtype="html")).text
    assert text == "Disk full on db1 & db2\n\n- one\n- two"


def test_html_to_text_keeps_no_tag_even_when_nested_oddly() -> None:
    text = html_to_text("<scr<script>ipt>x</script><div onclick='y'>ok</div>")
    assert "<" not in text.replace("<scr", "") and "onclick" not in text


def test_attachments_are_listed_not_kept() -> None:
    got = parsed(with_attachment())
    assert got.text == "See the log."
    assert got.attachments == (Attachment("error.log", 1234),)


def test_a_mail_over_the_limit_is_refused_before_parsing() -> None:
    with pytest.raises(MailRefused) as refused:
        read_mail(b"x" * 101, 100)
    assert (refused.value.reason, refused.value.smtp_code) == ("too_large", "552 5.3.4")


def test_a_broken_multipart_is_refused_as_malformed() -> None:
    with pytest.raises(MailRefused) as refused:
        parsed(malformed())
    assert refused.value.reason == "malformed"


def test_a_mail_without_a_sender_address_is_refused() -> None:
    with pytest.raises(MailRefused) as refused:
        parsed(b"Subject: hello\r\n\r\nbody\r\n")
    assert refused.value.reason == "no_sender"


@pytest.mark.parametrize(
    "quoted",
    [
        "> Payroll server is down\n> since 9",
        "On Mon, 2 Mar 2026 at 09:00, Desk <desk@example.com> wrote:\nPayroll server is down",
        "-----Original Message-----\nFrom: desk\nPayroll server is down",
        "在 2026年3月2日 09:00，服务台 写道：\n工资系统宕机",
    ],
)
def test_a_reply_keeps_only_its_own_words(quoted: str) -> None:
    assert reply_text(f"Works now.\n\n{quoted}") == "Works now."


def test_control_characters_are_dropped_from_text_and_subject() -> None:
    got = parsed(mail("disk\x00 full\x07", "line one\x00\nline two\x1b"))
    assert (got.subject, got.text) == ("disk full", "line one\nline two")


def test_raw_gbk_headers_are_read_in_the_bodys_charset() -> None:
    raw = (
        "From: 王力 <wang@customer.example.com>\r\nSubject: 紧急：数据库宕机\r\n"
        "Content-Type: text/plain; charset=GBK\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        "无法连接。\r\n"
    ).encode("gbk")
    got = parsed(raw)
    assert (got.sender_name, got.subject, got.text) == ("王力", "紧急：数据库宕机", "无法连接。")


def test_raw_8bit_headers_without_any_charset_must_be_utf8() -> None:
    raw = "From: a@b.example\r\nSubject: 紧急\r\n\r\nx\r\n".encode("gbk")
    with pytest.raises(MailRefused) as refused:
        parsed(raw)
    assert refused.value.reason == "charset"
