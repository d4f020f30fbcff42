"""Twilio's callbacks: "press 1" on a call and an SMS reply acknowledge the incident as that person.

Nothing here takes a bearer token: the request's X-Twilio-Signature, checked with the channel's
auth token through the twilio library's RequestValidator over the public URL (`callback_url` and
the path and query Twilio called), is the credential. A request that fails it changes nothing,
is answered 403 and counted; one Twilio already delivered (its CallSid or MessageSid spent) is
answered 409 and changes nothing either. A verified acknowledgement is recorded in that
person's name, in the same transaction that spends the sid.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import VoiceResponse

from tocsin.bridge.api.deps import RuntimeDep
from tocsin.bridge.errors import Conflict, Forbidden, InvalidInput, NotFound
from tocsin.bridge.incidents.service import acknowledge
from tocsin.bridge.notify.channels import setting_secret
from tocsin.bridge.notify.channels.phone import phrase, read_code
from tocsin.bridge.notify.channels.twilio import SAY_LANGUAGE
from tocsin.bridge.notify.links import AckClaim, LinkRejected, consume
from tocsin.bridge.notify.outbox import Outbox
from tocsin.bridge.notify.phone_ledger import UNREACHED, Ledger
from tocsin.bridge.notify.phone_metrics import phone_metrics
from tocsin.bridge.policy.model import PHONE_PROVIDERS, Person
from tocsin.bridge.runtime import Runtime

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1/phone", tags=["phone"])
SID_KEPT = timedelta(days=2)  # a spent CallSid/MessageSid is remembered this long
XML = "application/xml"
SAID = {"acked": "acked", "already": "already", "gone": "unknown"}  # outcome: what the phone hears


class SignatureRefused(Forbidden):
    """A callback whose provider signature does not match: 403, naming the header."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


class Callback:
    """A verified Twilio callback: its channel's token, its form and the runtime."""

    def __init__(self, runtime: Runtime, token: str, form: Mapping[str, str], kind: str) -> None:
        self.runtime = runtime
        self.token = token
        self.form = form
        self.kind = kind

    def counted(self, result: str) -> None:
        """Count the callback's outcome."""
        counted(self.runtime, "twilio", self.kind, result)

    def acknowledge(self, incident_id: int, person: str, sid_field: str) -> str:
        """Spend the sid and acknowledge as the person; return acked, already or gone."""
        sid = self.form.get(sid_field)
        if not sid:
            raise InvalidInput(f"the callback has no {sid_field}", field=sid_field)
        try:
            return acknowledge_once(self.runtime, incident_id, person, f"twilio:{sid}")
        except LinkRejected as exc:
            self.counted("replayed")
            raise Conflict(f"{sid_field} {sid} was handled before; nothing changed") from exc


def counted(runtime: Runtime, provider: str, kind: str, result: str) -> None:
    """Count a provider's callback by its outcome (verified, refused, replayed)."""
    metrics = phone_metrics(runtime.metrics.registry)
    metrics.callbacks.labels(provider=provider, kind=kind, result=result).inc()


def acknowledge_once(runtime: Runtime, incident_id: int, person: str, spent: str) -> str:
    """Spend a provider's message or call id and acknowledge as the person, in one transaction.

    Returns acked, already (someone acknowledged first) or gone (no such open incident);
    raises LinkRejected if the id was spent before (a replayed callback), changing nothing.
    """
    now = runtime.clock()
    claim = AckClaim(incident_id, person, now + SID_KEPT, spent[:64])
    try:
        with runtime.store.begin() as conn:
            consume(conn, claim, now)
            acknowledge(conn, runtime.hooks, incident_id, actor=person, now=now)
    except Conflict:
        return "already"
    except NotFound:
        return "gone"
    return "acked"


async def verified(channel: str, request: Request, runtime: Runtime, kind: str) -> Callback:
    """Return the callback if Twilio signed it for this channel; raise (403, counted) if not."""
    configured = runtime.policy.channels.get(channel)
    if configured is None or configured.type not in PHONE_PROVIDERS:
        raise NotFound(f"no phone channel {channel!r}")
    settings = configured.settings
    if settings.get("provider") != "twilio" or not settings.get("callback_url"):
        raise NotFound(f"channel {channel!r} takes no Twilio callbacks (no callback_url)")
    token = setting_secret(settings, "auth_token", channel=channel) or ""
    form = {key: str(value) for key, value in (await request.form()).items()}
    url = str(settings["callback_url"]).rstrip("/") + request.url.path
    if request.url.query:
        url += "?" + request.url.query
    signature = request.headers.get("X-Twilio-Signature", "")
    callback = Callback(runtime, token, form, kind)
    if not signature or not RequestValidator(token).validate(url, form, signature):
        callback.counted("refused")
        log.warning("phone: a %s callback for channel %s failed its Twilio signature; ignored",
                    kind, channel)  # fmt: skip
        raise SignatureRefused("the signature does not match this request", "X-Twilio-Signature")
    callback.counted("verified")
    return callback


def _person(runtime: Runtime, name: str | None) -> Person:
    person = runtime.policy.people.get(name or "")
    if person is None:
        raise InvalidInput(f"unknown person {name!r}", field="person")
    return person


@router.post("/{channel}/voice")
async def pressed(channel: str, request: Request, runtime: RuntimeDep) -> Response:
    """Acknowledge the incident a call was about when the person pressed 1."""
    callback = await verified(channel, request, runtime, "voice")
    person = _person(runtime, request.query_params.get("person"))
    try:
        incident_id = int(request.query_params.get("incident", ""))
    except ValueError as exc:
        raise InvalidInput("incident must be an incident id", field="incident") from exc
    language = person.language or "en"
    response = VoiceResponse()
    if callback.form.get("Digits") == "1":
        outcome = await run_in_threadpool(callback.acknowledge, incident_id, person.name, "CallSid")
        response.say(
            phrase(language, SAID[outcome], id=incident_id), language=SAY_LANGUAGE[language]
        )
    return Response(str(response), media_type=XML)


@router.post("/{channel}/sms")
async def replied(channel: str, request: Request, runtime: RuntimeDep) -> Response:
    """Acknowledge the incident whose code a person's SMS reply carries, from their number."""
    callback = await verified(channel, request, runtime, "sms")
    sender = callback.form.get("From", "")
    person = next((p for p in runtime.policy.people.values() if p.phone == sender), None)
    if person is None:
        raise InvalidInput("the reply comes from no person's phone", field="From")
    language = person.language or "en"
    incident_id = read_code(callback.token, callback.form.get("Body", ""), person.name)
    response = MessagingResponse()
    if incident_id is None:
        response.message(phrase(language, "unknown"))
        return Response(str(response), media_type=XML)
    outcome = await run_in_threadpool(callback.acknowledge, incident_id, person.name, "MessageSid")
    response.message(phrase(language, SAID[outcome], id=incident_id))
    return Response(str(response), media_type=XML)


@router.post("/{channel}/status", status_code=204)
async def status(channel: str, request: Request, runtime: RuntimeDep) -> Response:
    """Record a message's or call's status on its outbox entry; an unreached person is logged."""
    callback = await verified(channel, request, runtime, "status")
    form = callback.form
    ref = form.get("MessageSid") or form.get("CallSid")
    state = form.get("MessageStatus") or form.get("CallStatus")
    if not ref or not state:
        raise InvalidInput("a status callback names MessageSid or CallSid and its status",
                           field="MessageStatus" if form.get("MessageSid") else "CallStatus")  # fmt: skip
    await run_in_threadpool(record_status, runtime, channel, ref, state)
    return Response(status_code=204)


def record_status(runtime: Runtime, channel: str, ref: str, state: str) -> None:
    """Record a provider's status on the outbox entry; an unreached person's next step fires now."""
    found = Ledger(runtime.store).status(ref, state)
    if found is None or state not in UNREACHED:
        return
    log.warning("phone: outbox entry %s to %s via %s: %s", found[0], found[1], channel, state)
    if isinstance(runtime.pager, Outbox):
        with runtime.store.begin() as conn:
            runtime.pager.personal.unreached(conn, found[0], state, runtime.clock())
