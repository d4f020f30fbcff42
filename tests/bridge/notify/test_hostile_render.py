"""Hostile alert text through all six channel renderers: exact output, nothing live.

Each case is (title, summary, runbook_url) as a sender could set them; the expected outputs
were read line by line: no header or line added by CR/LF, no mention, tag or link made from
alert text, and only http(s) links kept as links (percent-encoded so no format's link ends early).
"""

from __future__ import annotations

import json

import pytest

from tocsin.bridge.notify.channels import Notification
from tocsin.bridge.notify.channels.dingtalk import dingtalk_payload
from tocsin.bridge.notify.channels.email import build_email
from tocsin.bridge.notify.channels.feishu import feishu_payload
from tocsin.bridge.notify.channels.slack import slack_payload
from tocsin.bridge.notify.channels.wecom import wecom_payload
from tocsin.bridge.notify.message import Message


def render(title: str, summary: str, url: str) -> dict[str, str]:
    """Return what each channel sends for a message carrying the hostile text."""
    message = Message(event="incident.note_added", incident_id=None, priority="", priority_name="",
                      title=title, status="", summary=summary, runbook_url=url)  # fmt: skip
    body = {"event": "incident.note_added", "incident": {"title": title, "summary": summary}}
    notification = Notification(key="k", body=body, message=message)
    mail = build_email(notification, "tocsin@example.com", ("ops@example.com",))
    plain, html = (mail.get_body((kind,)) for kind in ("plain", "html"))
    assert plain is not None and html is not None
    return {
        "slack": json.dumps(slack_payload(message), ensure_ascii=False),
        "wecom": wecom_payload(message)["markdown"]["content"],
        "dingtalk": dingtalk_payload(message)["markdown"]["text"],
        "feishu": json.dumps(
            feishu_payload(message)["content"]["post"]["en_us"], ensure_ascii=False
        ),
        "email": f"{mail['Subject']}\n{plain.get_content()}{html.get_content()}",
        "webhook": json.dumps(body, ensure_ascii=False),
    }


CASES = [
    (
        ("disk\r\nBcc: evil@example.com", "ok\nFake: field", "https://wiki.example.com/a"),
        {
            "slack": '{"text": "disk Bcc: evil@example.com", "blocks": [{"type": "header", "text": {"type": "plain_text", "text": "disk Bcc: evil@example.com"}}, {"type": "section", "text": {"type": "mrkdwn", "text": "*Summary:* ok Fake: field\\n*Runbook:* <https://wiki.example.com/a|https://wiki.example.com/a>"}}]}',
            "wecom": "### disk Bcc: evil@example.com\n**Summary:** ok Fake: field\n**Runbook:** [https://wiki.example.com/a](https://wiki.example.com/a)",
            "dingtalk": "### disk Bcc: evil@example.com\n\n**Summary:** ok Fake: field\n\n**Runbook:** [https://wiki.example.com/a](https://wiki.example.com/a)",
            "feishu": '{"title": "disk Bcc: evil@example.com", "content": [[{"tag": "text", "text": "Summary: "}, {"tag": "text", "text": "ok Fake: field"}], [{"tag": "text", "text": "Runbook: "}, {"tag": "a", "text": "https://wiki.example.com/a", "href": "https://wiki.example.com/a"}]]}',
            "email": 'disk Bcc: evil@example.com\ndisk Bcc: evil@example.com\n\nSummary: ok Fake: field\nRunbook: https://wiki.example.com/a\n<!doctype html><html><head><meta charset="utf-8"><title>disk Bcc: evil@example.com</title></head><body><h2>disk Bcc: evil@example.com</h2><table><tr><th align="left" valign="top">Summary</th><td>ok Fake: field</td></tr><tr><th align="left" valign="top">Runbook</th><td><a href="https://wiki.example.com/a">https://wiki.example.com/a</a></td></tr></table></body></html>\n',
            "webhook": '{"event": "incident.note_added", "incident": {"title": "disk\\r\\nBcc: evil@example.com", "summary": "ok\\nFake: field"}}',
        },
    ),
    (
        ("<!channel> <@U1> &", "x", "https://ok/|fake> <!channel> <https://evil"),
        {
            "slack": '{"text": "&lt;!channel&gt; &lt;@U1&gt; &amp;", "blocks": [{"type": "header", "text": {"type": "plain_text", "text": "<!channel> <@U1> &"}}, {"type": "section", "text": {"type": "mrkdwn", "text": "*Summary:* x\\n*Runbook:* https://ok/|fake&gt; &lt;!channel&gt; &lt;https://evil"}}]}',
            "wecom": "### &lt;\\!channel&gt; &lt;@U1&gt; &amp;\n**Summary:** x\n**Runbook:** https://ok/\\|fake&gt; &lt;\\!channel&gt; &lt;https://evil",
            "dingtalk": "### &lt;\\!channel&gt; &lt;@U1&gt; &amp;\n\n**Summary:** x\n\n**Runbook:** https://ok/\\|fake&gt; &lt;\\!channel&gt; &lt;https://evil",
            "feishu": '{"title": "<!channel> <@U1> &", "content": [[{"tag": "text", "text": "Summary: "}, {"tag": "text", "text": "x"}], [{"tag": "text", "text": "Runbook: "}, {"tag": "text", "text": "https://ok/|fake> <!channel> <https://evil"}]]}',
            "email": '<!channel> <@U1> &\n<!channel> <@U1> &\n\nSummary: x\nRunbook: https://ok/|fake> <!channel> <https://evil\n<!doctype html><html><head><meta charset="utf-8"><title>&lt;!channel&gt; &lt;@U1&gt; &amp;</title></head><body><h2>&lt;!channel&gt; &lt;@U1&gt; &amp;</h2><table><tr><th align="left" valign="top">Summary</th><td>x</td></tr><tr><th align="left" valign="top">Runbook</th><td>https://ok/|fake&gt; &lt;!channel&gt; &lt;https://evil</td></tr></table></body></html>\n',
            "webhook": '{"event": "incident.note_added", "incident": {"title": "<!channel> <@U1> &", "summary": "x"}}',
        },
    ),
    (
        ("x", "see [here](http://evil) )", "javascript:alert(1)"),
        {
            "slack": '{"text": "x", "blocks": [{"type": "header", "text": {"type": "plain_text", "text": "x"}}, {"type": "section", "text": {"type": "mrkdwn", "text": "*Summary:* see [here](http://evil) )\\n*Runbook:* javascript:alert(1)"}}]}',
            "wecom": "### x\n**Summary:** see \\[here\\]\\(http://evil\\) \\)\n**Runbook:** javascript:alert\\(1\\)",
            "dingtalk": "### x\n\n**Summary:** see \\[here\\]\\(http://evil\\) \\)\n\n**Runbook:** javascript:alert\\(1\\)",
            "feishu": '{"title": "x", "content": [[{"tag": "text", "text": "Summary: "}, {"tag": "text", "text": "see [here](http://evil) )"}], [{"tag": "text", "text": "Runbook: "}, {"tag": "text", "text": "javascript:alert(1)"}]]}',
            "email": 'x\nx\n\nSummary: see [here](http://evil) )\nRunbook: javascript:alert(1)\n<!doctype html><html><head><meta charset="utf-8"><title>x</title></head><body><h2>x</h2><table><tr><th align="left" valign="top">Summary</th><td>see [here](http://evil) )</td></tr><tr><th align="left" valign="top">Runbook</th><td>javascript:alert(1)</td></tr></table></body></html>\n',
            "webhook": '{"event": "incident.note_added", "incident": {"title": "x", "summary": "see [here](http://evil) )"}}',
        },
    ),
    (
        (
            "<script>alert(1)</script>",
            '<at user_id="all">all</at> <font color="warning">',
            "data:text/html,<b>x</b>",
        ),
        {
            "slack": '{"text": "&lt;script&gt;alert(1)&lt;/script&gt;", "blocks": [{"type": "header", "text": {"type": "plain_text", "text": "<script>alert(1)</script>"}}, {"type": "section", "text": {"type": "mrkdwn", "text": "*Summary:* &lt;at user_id=\\"all\\"&gt;all&lt;/at&gt; &lt;font color=\\"warning\\"&gt;\\n*Runbook:* data:text/html,&lt;b&gt;x&lt;/b&gt;"}}]}',
            "wecom": '### &lt;script&gt;alert\\(1\\)&lt;/script&gt;\n**Summary:** &lt;at user\\_id="all"&gt;all&lt;/at&gt; &lt;font color="warning"&gt;\n**Runbook:** data:text/html,&lt;b&gt;x&lt;/b&gt;',
            "dingtalk": '### &lt;script&gt;alert\\(1\\)&lt;/script&gt;\n\n**Summary:** &lt;at user\\_id="all"&gt;all&lt;/at&gt; &lt;font color="warning"&gt;\n\n**Runbook:** data:text/html,&lt;b&gt;x&lt;/b&gt;',
            "feishu": '{"title": "<script>alert(1)</script>", "content": [[{"tag": "text", "text": "Summary: "}, {"tag": "text", "text": "<at user_id=\\"all\\">all</at> <font color=\\"warning\\">"}], [{"tag": "text", "text": "Runbook: "}, {"tag": "text", "text": "data:text/html,<b>x</b>"}]]}',
            "email": '<script>alert(1)</script>\n<script>alert(1)</script>\n\nSummary: <at user_id="all">all</at> <font color="warning">\nRunbook: data:text/html,<b>x</b>\n<!doctype html><html><head><meta charset="utf-8"><title>&lt;script&gt;alert(1)&lt;/script&gt;</title></head><body><h2>&lt;script&gt;alert(1)&lt;/script&gt;</h2><table><tr><th align="left" valign="top">Summary</th><td>&lt;at user_id=&quot;all&quot;&gt;all&lt;/at&gt; &lt;font color=&quot;warning&quot;&gt;</td></tr><tr><th align="left" valign="top">Runbook</th><td>data:text/html,&lt;b&gt;x&lt;/b&gt;</td></tr></table></body></html>\n',
            "webhook": '{"event": "incident.note_added", "incident": {"title": "<script>alert(1)</script>", "summary": "<at user_id=\\"all\\">all</at> <font color=\\"warning\\">"}}',
        },
    ),
    (
        (
            "a\u202eevil\x00\x1b[31m",
            "# head **bold** `code` ~x~",
            "https://ok.example.com/p?q=(1)&r='x'",
        ),
        {
            "slack": '{"text": "a evil [31m", "blocks": [{"type": "header", "text": {"type": "plain_text", "text": "a evil [31m"}}, {"type": "section", "text": {"type": "mrkdwn", "text": "*Summary:* # head **bold** `code` ~x~\\n*Runbook:* <https://ok.example.com/p?q=%281%29&amp;r=%27x%27|https://ok.example.com/p?q=(1)&amp;r=\'x\'>"}}]}',
            "wecom": "### a evil \\[31m\n**Summary:** \\# head \\*\\*bold\\*\\* \\`code\\` \\~x\\~\n**Runbook:** [https://ok.example.com/p?q=\\(1\\)&amp;r='x'](https://ok.example.com/p?q=%281%29&r=%27x%27)",
            "dingtalk": "### a evil \\[31m\n\n**Summary:** \\# head \\*\\*bold\\*\\* \\`code\\` \\~x\\~\n\n**Runbook:** [https://ok.example.com/p?q=\\(1\\)&amp;r='x'](https://ok.example.com/p?q=%281%29&r=%27x%27)",
            "feishu": '{"title": "a evil [31m", "content": [[{"tag": "text", "text": "Summary: "}, {"tag": "text", "text": "# head **bold** `code` ~x~"}], [{"tag": "text", "text": "Runbook: "}, {"tag": "a", "text": "https://ok.example.com/p?q=(1)&r=\'x\'", "href": "https://ok.example.com/p?q=%281%29&r=%27x%27"}]]}',
            "email": 'a evil [31m\na evil [31m\n\nSummary: # head **bold** `code` ~x~\nRunbook: https://ok.example.com/p?q=(1)&r=\'x\' <https://ok.example.com/p?q=%281%29&r=%27x%27>\n<!doctype html><html><head><meta charset="utf-8"><title>a evil [31m</title></head><body><h2>a evil [31m</h2><table><tr><th align="left" valign="top">Summary</th><td># head **bold** `code` ~x~</td></tr><tr><th align="left" valign="top">Runbook</th><td><a href="https://ok.example.com/p?q=%281%29&amp;r=%27x%27">https://ok.example.com/p?q=(1)&amp;r=&#x27;x&#x27;</a></td></tr></table></body></html>\n',
            "webhook": '{"event": "incident.note_added", "incident": {"title": "a\u202eevil\\u0000\\u001b[31m", "summary": "# head **bold** `code` ~x~"}}',
        },
    ),
]


@pytest.mark.parametrize(("case", "expected"), CASES)
def test_hostile_text_renders_exactly_as_inert_text(
    case: tuple[str, str, str], expected: dict[str, str]
) -> None:
    assert render(*case) == expected
