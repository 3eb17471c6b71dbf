"""Admins' notices: one when a component turns failing, one when it is ok again, per incident,
on [[admin.routes]] (kept apart from the team's alert routes, sent by the same route code).

The state last notified lives in Redis and is swapped atomically, so that of several processes
checking at once exactly one sends. A notice that could not be sent puts the old state back: the
next check tries again. A warning neither opens nor closes an incident.
"""

from __future__ import annotations

import json
import time
from email.message import EmailMessage
from email.utils import make_msgid, parseaddr

import redis
import structlog

from ces.config.models import AdminRoute
from ces.connectors import markup
from ces.connectors.standard_webhooks import headers as signed_headers
from ces.worker.alerts.routes import SLACK_API, _post_json
from ces.worker.health import rules
from ces.worker.mail import send_mail
from ces.worker.runtime import Runtime

log = structlog.get_logger("ces.health")


def notice_text(component: dict, failing: bool, page: str) -> str:
    if not failing:
        return f"Recovered: {component['title']} is {component['state']} again.\nHealth: {page}"
    lines = [f"Failing: {component['title']}"]
    for f in component["findings"]:
        lines += [f"Cause: {f['cause']}", f"Fix: {f['fix']}"]
    return "\n".join([*lines, f"Health: {page}"])


def teams_card(text: str) -> dict:
    """An Adaptive Card as the alert routes send (each line a TextRun: shown as written, never Markdown)."""
    card = {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard",
            "version": "1.4", "body": markup.teams_lines(text)}
    return {"type": "message", "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive",
                                                "contentUrl": None, "content": card}]}


def _send(rt: Runtime, route: AdminRoute, component: dict, failing: bool) -> None:
    text = notice_text(component, failing, f"{rt.settings.console_url}/admin/health")
    subject = text.splitlines()[0]
    if route.type == "email":
        msg = EmailMessage()
        msg["Subject"], msg["From"], msg["To"] = f"ces-worker: {subject}", rt.settings.smtp.sender, ", ".join(route.to)
        domain = parseaddr(rt.settings.smtp.sender)[1].rpartition("@")[2] or "localhost"
        msg["Message-ID"], msg["Auto-Submitted"] = make_msgid("ces-health", domain=domain), "auto-generated"
        msg.set_content(text)
        send_mail(rt.settings.smtp, msg)
    elif route.type == "slack" and route.has_secret("bot_token"):
        rt.http.request("POST", f"{route.api_base or SLACK_API}/chat.postMessage", label="Slack chat.postMessage",
                        json={"channel": route.channel, "text": text},
                        headers={"Authorization": f"Bearer {route.secret('bot_token')}"})
    elif route.type == "slack":
        _post_json(rt, route.secret("url"), {"text": text}, "Slack webhook")
    elif route.type == "teams":
        _post_json(rt, route.secret("url"), teams_card(text), "Teams webhook")
    else:
        payload = {"type": "ces.health." + ("failing" if failing else "recovered"), "component": component["name"],
                   "state": component["state"], "findings": component["findings"], "text": text}
        body = json.dumps(payload).encode()
        extra = {}
        if route.has_secret("signing_secret"):
            extra = signed_headers(route.secret("signing_secret"), f"health_{component['name']}_{int(time.time())}",
                                   int(time.time()), body)
        rt.http.request("POST", route.secret("url"), label="outgoing webhook", data=body,
                        headers={"Content-Type": "application/json", **extra})


def _announce(rt: Runtime, component: dict, failing: bool) -> bool:
    """Every admin route; True when at least one took it (or there is none)."""
    sent = not rt.settings.admin.routes
    for route in rt.settings.admin.routes:
        try:
            _send(rt, route, component, failing)
            sent = True
        except Exception as exc:  # one broken route never keeps the notice from the others
            log.warning("health_notice_failed", route=route.name, component=component["name"],
                        error=type(exc).__name__)
    return sent


def notify_changes(rt: Runtime, report: dict) -> list[str]:
    """Sends the notices of the components whose failing/ok state changed; returns what was sent
    ("failing:smtp", "recovered:connector:zendesk-main")."""
    done = []
    listed = all(c["state"] == rules.OK for c in report["components"] if c["name"] == "redis")  # else no connectors
    try:
        if listed:
            rt.health.forget_gone({c["name"] for c in report["components"]})
    except redis.RedisError:
        return done
    for component in report["components"]:
        state = component["state"]
        if state == rules.WARNING or component["name"] == "redis":  # no Redis: no shared state to notify by
            continue
        try:
            old = rt.health.swap_state(component["name"], state)
        except redis.RedisError:
            return done
        if (old == rules.FAILING) == (state == rules.FAILING):
            continue
        failing = state == rules.FAILING
        if _announce(rt, component, failing):
            done.append(("failing:" if failing else "recovered:") + component["name"])
            log.warning("health_" + ("failing" if failing else "recovered"), component=component["name"])
        else:
            rt.health.swap_state(component["name"], old or rules.OK)
    return done
