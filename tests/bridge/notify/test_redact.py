from __future__ import annotations

import pytest

from tocsin.bridge.notify.redact import safe_url, scrub, secret_parts


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc-123",
            "https://qyapi.weixin.qq.com/***",
        ),
        ("https://open.feishu.cn/open-apis/bot/v2/hook/5e3d587e", "https://open.feishu.cn/***"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("not a url", "***"),
    ],
)
def test_safe_url_shows_only_scheme_host_and_port(url: str, shown: str) -> None:
    assert safe_url(url) == shown


def test_scrub_removes_every_part_of_a_webhook_url() -> None:
    url = "https://oapi.dingtalk.com/robot/send?access_token=SECRETTOKEN123"
    text = f"failed: HTTPSConnectionPool: url: /robot/send?access_token=SECRETTOKEN123 ({url})"
    assert "SECRETTOKEN123" not in scrub(text, secret_parts(url))
