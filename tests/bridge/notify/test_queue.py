from __future__ import annotations

import pytest

from tocsin.bridge.notify.queue import idempotency_key


def test_a_short_key_stays_readable() -> None:
    assert idempotency_key(7, "ops-chat", "carol") == "tocsin-7-ops-chat-carol"


@pytest.mark.parametrize("recipient", ["张伟", "x" * 200, "two words"])
def test_a_long_or_non_ascii_key_is_hashed_to_a_safe_header_value(recipient: str) -> None:
    key = idempotency_key(7, "ops-chat", recipient)
    assert key.startswith("tocsin-7-") and key.isascii() and len(key) <= 100 and " " not in key
    assert key == idempotency_key(7, "ops-chat", recipient)
