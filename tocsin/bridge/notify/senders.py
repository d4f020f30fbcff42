"""Build the sender for a policy channel by its type."""

from __future__ import annotations

import ssl

import requests
from prometheus_client import CollectorRegistry

from tocsin.bridge.errors import ConfigError
from tocsin.bridge.notify.channels import Sender
from tocsin.bridge.notify.channels.aliyun import AliyunProvider
from tocsin.bridge.notify.channels.base import HttpChannel
from tocsin.bridge.notify.channels.console import LogSender
from tocsin.bridge.notify.channels.dingtalk import DingTalkSender
from tocsin.bridge.notify.channels.email import EmailSender
from tocsin.bridge.notify.channels.feishu import FeishuSender
from tocsin.bridge.notify.channels.http import DEFAULT_TIMEOUT
from tocsin.bridge.notify.channels.phone import PhoneSender, Provider
from tocsin.bridge.notify.channels.slack import SlackSender
from tocsin.bridge.notify.channels.tencent import TencentProvider
from tocsin.bridge.notify.channels.twilio import TwilioProvider
from tocsin.bridge.notify.channels.webhook import WebhookSender
from tocsin.bridge.notify.channels.wecom import WeComSender
from tocsin.bridge.notify.phone_ledger import Ledger
from tocsin.bridge.notify.phone_metrics import phone_metrics
from tocsin.bridge.platform.clock import Clock, utcnow
from tocsin.bridge.platform.config import Smtp
from tocsin.bridge.policy.model import PHONE_PROVIDERS, Channel
from tocsin.bridge.store.db import Store

HTTP_CHANNELS: dict[str, type[HttpChannel]] = {
    cls.type: cls for cls in (WebhookSender, SlackSender, WeComSender, DingTalkSender, FeishuSender)
}


def build_sender(
    channel: Channel,
    *,
    smtp: Smtp | None = None,
    tls_context: ssl.SSLContext | None = None,
    session: requests.Session | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    clock: Clock = utcnow,
    store: Store | None = None,
    registry: CollectorRegistry | None = None,
) -> Sender:
    """Return the sender for a channel; a type the policy loader let through is a config fault."""
    name, settings = channel.name, channel.settings
    if channel.type == "email":
        return EmailSender(name, settings, smtp, tls_context=tls_context)
    if channel.type == "log":
        return LogSender(name, settings)
    if channel.type in PHONE_PROVIDERS:
        provider: Provider
        if settings.get("provider") == "twilio":
            provider = TwilioProvider(name, settings, timeout=timeout)
        elif settings.get("provider") == "tencent":
            provider = TencentProvider(
                name, settings, session=session, timeout=timeout, clock=clock
            )
        else:
            provider = AliyunProvider(name, settings, session=session, timeout=timeout, clock=clock)
        return PhoneSender(
            name,
            channel.type,
            provider,
            ledger=Ledger(store) if store is not None else None,
            metrics=phone_metrics(registry) if registry is not None else None,
            clock=clock,
        )
    http = HTTP_CHANNELS.get(channel.type)
    if http is None:
        raise ConfigError(f"channel {name!r}: unknown type {channel.type!r}")
    return http(name, settings, session=session, timeout=timeout, clock=clock)
