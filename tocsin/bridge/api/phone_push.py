"""Alibaba Cloud's and Tencent Cloud's pushes: delivery and call reports, SMS replies, a key pressed.

Alibaba's HTTP batch push (SmsReport, SmsUp, VoiceReport) and Tencent's callbacks (SMS status
and reply; on the voice event URL voiceprompt_callback and voicekey_callback) carry no
signature the vendors document, so the URL configured in their console carries the credential:
`?token=` must equal the channel's `callback_token` (compared in constant time). A request
without it changes nothing, is answered 403 naming `token`, logged and counted. Reports set the
outbox entry's provider status (an unreached person's next rule step fires at once); a reply
"1" from a person's number, or key 1 pressed on a call (Alibaba's `dtmf`, Tencent's
`keypress`), acknowledges in that person's name: once, since the vendor's id for the reply or
call is spent in the same transaction. Answers are the bodies the vendors document.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from tocsin.bridge.api.deps import RuntimeDep
from tocsin.bridge.api.phone import SignatureRefused, acknowledge_once, counted, record_status
from tocsin.bridge.errors import InvalidInput, NotFound
from tocsin.bridge.notify.channels import setting_secret
from tocsin.bridge.notify.links import LinkRejected
from tocsin.bridge.policy.model import PHONE_PROVIDERS, Channel, Person
from tocsin.bridge.runtime import Runtime
from tocsin.bridge.store.schema import incidents, outbox

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1/phone", tags=["phone"])
PUSHED = ("aliyun", "tencent")
ANSWER = {"aliyun": {"code": 0, "msg": "接收成功"}, "tencent": {"result": 0, "errmsg": "OK"}}
ACK_REPLY = "1"
# Alibaba voice result codes (status_code) as the outbox records them; others are "failed".
TENCENT_CALL = {"0": "completed", "1": "no-answer"}  # VMS `result`; 2 (a failed call): "failed"
CALL_STATUS = {"200000": "completed", "200001": "completed", "200002": "busy",
               "200003": "no-answer", "200008": "completed"}  # fmt: skip


def _channel(runtime: Runtime, name: str, request: Request, kind: str) -> Channel:
    """Return the channel if the request carries its callback token; refuse (403) if not."""
    channel = runtime.policy.channels.get(name)
    if channel is None or channel.type not in PHONE_PROVIDERS:
        raise NotFound(f"no phone channel {name!r}")
    provider = str(channel.settings.get("provider"))
    if provider not in PUSHED:
        raise NotFound(f"channel {name!r} is not an Alibaba Cloud or Tencent Cloud channel")
    expected = setting_secret(channel.settings, "callback_token", channel=name, required=False)
    if not expected:
        raise NotFound(f"channel {name!r} takes no pushes (no callback_token)")
    given = request.query_params.get("token", "")
    if not hmac.compare_digest(given.encode(), expected.encode()):
        counted(runtime, provider, kind, "refused")
        log.warning("phone: a %s push for channel %s came without its token; ignored", kind, name)
        raise SignatureRefused("the token does not match this channel's callback_token", "token")
    counted(runtime, provider, kind, "verified")
    return channel


async def _items(request: Request) -> list[Mapping[str, Any]]:
    """Return the pushed JSON: a list of objects (a single object is a list of one)."""
    try:
        data = await request.json()
    except ValueError as exc:
        raise InvalidInput("the body is not JSON", field="body") from exc
    items = data if isinstance(data, list) else [data]
    if not all(isinstance(item, Mapping) for item in items):
        raise InvalidInput("expected a JSON object or an array of objects", field="body")
    return items


def _text(item: Mapping[str, Any], key: str) -> str:
    value = item.get(key)
    if value is None or isinstance(value, (dict, list)):
        raise InvalidInput(f"each item needs {key!r}", field=key)
    return str(value)


@router.post("/{channel}/report")
async def report(channel: str, request: Request, runtime: RuntimeDep) -> JSONResponse:
    """Record SmsReport / VoiceReport (Alibaba) or SMS status (Tencent) on the outbox entries."""
    found = _channel(runtime, channel, request, "report")
    provider = str(found.settings["provider"])
    for item in await _items(request):
        if provider == "tencent" and found.type == "voice":
            await _tencent_call(runtime, channel, item)
            continue
        if provider == "tencent":
            ref = _text(item, "sid")
            state = "delivered" if item.get("report_status") == "SUCCESS" else "failed"
        elif found.type == "voice":
            ref = _text(item, "call_id")
            state = CALL_STATUS.get(_text(item, "status_code"), "failed")
            if str(item.get("dtmf") or "") == ACK_REPLY:
                await run_in_threadpool(_pressed, runtime, ref, provider)
        else:
            ref = _text(item, "biz_id")
            state = "delivered" if item.get("success") is True else "failed"
        await run_in_threadpool(record_status, runtime, channel, ref, state)
    return JSONResponse(ANSWER[provider])


@router.post("/{channel}/reply")
async def reply(channel: str, request: Request, runtime: RuntimeDep) -> JSONResponse:
    """Acknowledge, for the person whose number replied "1", the incident last paged to them."""
    found = _channel(runtime, channel, request, "reply")
    provider = str(found.settings["provider"])
    for item in await _items(request):
        if provider == "tencent":
            number = "+" + _text(item, "nationcode") + _text(item, "mobile")
            text = _text(item, "text")
            seen = f"{number}|{_text(item, 'time')}|{text}"
            spent = "tencent:" + hashlib.sha256(seen.encode()).hexdigest()[:40]
        else:
            number = _text(item, "phone_number")
            text = _text(item, "content")
            spent = f"aliyun:{_text(item, 'sequence_id')}"
        person = _person(runtime, number)
        if person is None:
            log.warning("phone: a reply on channel %s comes from no person's number; ignored",
                        channel)  # fmt: skip
            continue
        if text.strip() != ACK_REPLY:
            log.info("phone: %s replied on %s with something other than %s; nothing changed",
                     person.name, channel, ACK_REPLY)  # fmt: skip
            continue
        await run_in_threadpool(_acknowledge_last, runtime, channel, person, spent, provider)
    return JSONResponse(ANSWER[provider])


def _person(runtime: Runtime, number: str) -> Person | None:
    """Return the person a vendor's number is: E.164, or a mainland number without +86."""
    wanted = {number, "+" + number.lstrip("+"), "+86" + number}
    return next((p for p in runtime.policy.people.values() if p.phone in wanted), None)


def _spend(
    runtime: Runtime, incident_id: int, person: str, spent: str, provider: str, kind: str
) -> None:
    """Acknowledge as the person, spending the vendor's id; a replay is counted and ignored."""
    try:
        outcome = acknowledge_once(runtime, incident_id, person, spent)
    except LinkRejected:
        counted(runtime, provider, kind, "replayed")
        log.warning("phone: %s was handled before; nothing changed", spent)
        return
    log.info("phone: incident %s %s by %s from the phone", incident_id, outcome, person)


def _acknowledge_last(
    runtime: Runtime, channel: str, person: Person, spent: str, provider: str
) -> None:
    """Acknowledge the latest unacknowledged incident paged to the person on the channel."""
    with runtime.store.connect() as conn:
        paged = conn.execute(
            select(outbox.c.incident_id)
            .join(incidents, incidents.c.id == outbox.c.incident_id)
            .where(
                outbox.c.recipient == person.name,
                outbox.c.channel == channel,
                incidents.c.status == "triggered",
            )
            .order_by(outbox.c.id.desc())
            .limit(1)
        ).scalar()
    if paged is None:
        log.info("phone: %s replied on %s but nothing paged to them is unacknowledged",
                 person.name, channel)  # fmt: skip
        return
    _spend(runtime, int(paged), person.name, spent, provider, "reply")


async def _tencent_call(runtime: Runtime, channel: str, item: Mapping[str, Any]) -> None:
    """Read one VMS event: a call's outcome (voiceprompt_callback) or a key (voicekey_callback)."""
    status, key = item.get("voiceprompt_callback"), item.get("voicekey_callback")
    if isinstance(status, Mapping):
        state = TENCENT_CALL.get(_text(status, "result"), "failed")
        await run_in_threadpool(record_status, runtime, channel, _text(status, "callid"), state)
    elif isinstance(key, Mapping):
        if _text(key, "keypress") == ACK_REPLY:
            await run_in_threadpool(_pressed, runtime, _text(key, "callid"), "tencent")
    else:
        raise InvalidInput("expected voiceprompt_callback or voicekey_callback", field="body")


def _pressed(runtime: Runtime, call_id: str, provider: str) -> None:
    """Acknowledge the incident a call was about, as the person called, once per call."""
    with runtime.store.connect() as conn:
        row = conn.execute(
            select(outbox.c.incident_id, outbox.c.recipient).where(outbox.c.provider_ref == call_id)
        ).first()
    if row is None or row.incident_id is None or row.recipient is None:
        log.warning("phone: a key pressed on call %s matches no page; nothing changed", call_id)
        return
    _spend(
        runtime,
        int(row.incident_id),
        str(row.recipient),
        f"{provider}:{call_id}",
        provider,
        "report",
    )
