"""Delivering one alert through its route. Each function returns a reference to what it created
(e.g. Slack's message ts, for edits in place) or raises: Unsupported (skipped with the reason),
a permanent error (failed), a transient one (retried), an uncertain one (never resent)."""

from __future__ import annotations

import json
import time
from email.message import EmailMessage
from email.utils import make_msgid, parseaddr

from ces.config.models import AlertRoute
from ces.connectors import base
from ces.connectors.errors import PermanentApiError, TicketLocked, Unsupported
from ces.connectors.standard_webhooks import headers as signed_headers
from ces.worker.alerts import content as render
from ces.worker.db.models import Alert
from ces.worker.mail import send_mail
from ces.worker.runtime import Runtime

SLACK_API = "https://slack.com/api"


class Skipped(Unsupported):
    """The route cannot do this here; recorded with the reason, the other routes go on."""


def deliver(rt: Runtime, alert: Alert, route: AlertRoute | None, previous_ref: str | None) -> str | None:
    c = alert.content
    if alert.kind == "writeback":
        return _writeback(rt, c)
    if route is None:
        raise Skipped(f"route {alert.route!r} is no longer configured")
    return {"note": _note, "slack": _slack, "teams": _teams, "email": _email, "webhook": _webhook}[route.type](
        rt, alert, route, c, previous_ref)


def _connector(rt: Runtime, c: dict):
    conn = rt.connector(c["connector"])
    if conn is None:
        raise Skipped(f"connector {c['connector']!r} is no longer configured")
    return conn


def _writeback(rt: Runtime, c: dict) -> None:
    conn = _connector(rt, c)
    if base.TAGS not in conn.capabilities:
        raise Skipped(f"{conn.title} cannot tag tickets")
    conn.add_tags(c["ticket_id"], c["tags"])
    if c.get("remove_tags"):  # an earlier answer's tag; both calls are safe to repeat on a retry
        conn.remove_tags(c["ticket_id"], c["remove_tags"])


def _note(rt: Runtime, alert: Alert, route: AlertRoute, c: dict, _previous: str | None) -> str | None:
    """An internal note (never public), an optional tag, reopen or hand-over; a ticket the helpdesk
    no longer lets us change (Zendesk: closed) gets a follow-up ticket where it can."""
    conn = _connector(rt, c)
    if base.NOTE not in conn.capabilities:
        raise Skipped(f"{conn.title} cannot post internal notes")
    body = render.text(c)
    try:
        conn.post_internal_note(c["ticket_id"], body)
    except TicketLocked:
        if base.FOLLOWUP not in conn.capabilities:
            raise Skipped(f"ticket {c['ticket_id']} is closed and {conn.title} has no follow-up tickets") from None
        return f"followup:{conn.create_followup(c['ticket_id'], render.subject(c), body)}"
    if route.tag and base.TAGS in conn.capabilities:
        conn.add_tags(c["ticket_id"], [route.tag])
    if (route.reopen or route.followup_group) and base.REOPEN in conn.capabilities and alert.kind == "alert":
        conn.reopen(c["ticket_id"], group=route.followup_group)
    return None


def _post_json(rt: Runtime, url: str, payload: dict, label: str, headers: dict | None = None):
    # Webhook URLs are secrets: the client names only the host in errors and logs.
    return rt.http.request("POST", url, label=label, json=payload if headers is None else None,
                           data=json.dumps(payload).encode() if headers is not None else None,
                           headers={"Content-Type": "application/json", **(headers or {})})


def _slack(rt: Runtime, alert: Alert, route: AlertRoute, c: dict, previous: str | None) -> str | None:
    message = render.slack(c)
    if route.has_secret("bot_token"):
        api = route.api_base or SLACK_API
        auth = {"Authorization": f"Bearer {route.secret('bot_token')}"}
        if alert.kind == "update" and previous and previous.startswith("ts:"):
            channel, ts = previous[3:].split(":", 1)
            data = rt.http.request("POST", f"{api}/chat.update", label="Slack chat.update",
                                   json={"channel": channel, "ts": ts, **message}, headers=auth).json()
        else:
            data = rt.http.request("POST", f"{api}/chat.postMessage", label="Slack chat.postMessage",
                                   json={"channel": route.channel, **message}, headers=auth).json()
        if not data.get("ok"):
            error = data.get("error", "unknown_error")
            raise PermanentApiError(f"Slack answered {error}", status=200)
        return f"ts:{data.get('channel') or route.channel}:{data.get('ts')}"
    _post_json(rt, route.secret("url"), message, "Slack webhook")
    return None


def _teams(rt: Runtime, alert: Alert, route: AlertRoute, c: dict, _previous: str | None) -> None:
    _post_json(rt, route.secret("url"), render.teams(c), "Teams webhook")


def _webhook(rt: Runtime, alert: Alert, route: AlertRoute, c: dict, _previous: str | None) -> None:
    """Signed per Standard Webhooks, so other tools can act; the alert id is the webhook-id."""
    payload = {"type": f"ces.{alert.kind}", "timestamp": alert.created_at.isoformat(), "data": c}
    body = json.dumps(payload).encode()
    extra = {}
    if route.has_secret("signing_secret"):
        extra = signed_headers(route.secret("signing_secret"), f"alert_{alert.id}", int(time.time()), body)
    rt.http.request("POST", route.secret("url"), label="outgoing webhook", data=body,
                    headers={"Content-Type": "application/json", **extra})


def _email(rt: Runtime, alert: Alert, route: AlertRoute, c: dict, _previous: str | None) -> str:
    msg = EmailMessage()
    msg["Subject"] = render.subject(c)
    msg["From"] = rt.settings.smtp.sender
    msg["To"] = alert.recipient
    domain = parseaddr(rt.settings.smtp.sender)[1].rpartition("@")[2] or "localhost"
    msg["Message-ID"] = make_msgid("ces-alert", domain=domain)
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(render.text(c))
    send_mail(rt.settings.smtp, msg)
    return msg["Message-ID"]
