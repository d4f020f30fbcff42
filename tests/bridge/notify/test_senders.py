from __future__ import annotations

import pytest

from tocsin.bridge.notify.senders import build_sender
from tocsin.bridge.policy.model import CHANNEL_TYPES, PHONE_PROVIDERS, Channel


@pytest.mark.parametrize("kind", CHANNEL_TYPES)
def test_every_policy_channel_type_has_a_sender(kind: str) -> None:
    settings = {"to": ["ops@example.com"]} if kind == "email" else {"url": "http://127.0.0.1:9/x"}
    if kind in PHONE_PROVIDERS:
        settings = {"provider": "aliyun", "access_key_id": "id", "access_key_secret": "s"}
    sender = build_sender(Channel(name="c", type=kind, settings=settings))
    assert (sender.name, sender.type) == ("c", kind)
