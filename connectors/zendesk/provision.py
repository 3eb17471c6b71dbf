"""Zendesk provisioning: one webhook subscribed to the event "ticket status changed".

Facts (developer.zendesk.com/api-reference/webhooks/webhooks-api/webhooks/): webhooks are listed
(GET /api/v2/webhooks, cursor pages, filter[name_contains]), created (POST, the webhook under
"webhook"), updated (PUT /api/v2/webhooks/{id}); Zendesk generates the signing secret and shows
it (GET …/{id}/signing_secret). POST /api/v2/webhooks/test?webhook_id={id} sends one request
through an existing webhook, signed with its secret, and answers what the endpoint answered.

An event subscription needs no trigger and has a fixed payload (the setup text's Option A), so
provisioning creates only the webhook; the connector reads either kind of delivery.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone

from ces.config.secrets import MissingSecret
from ces.connectors import provisioning
from ces.connectors.api import json_link
from ces.connectors.base import Connector
from ces.connectors.errors import ApiError
from ces.connectors.models import CheckResult
from ces.connectors.provisioning import Steps, marker

SUBSCRIPTION = "zen:event-type:ticket.status_changed"
TEST_EVENT = "zen:event-type:ces.test_delivery"  # not a ticket event: intake stores it as ignored
REMINDER = ("switch off Zendesk's own satisfaction survey (Admin Center > People > Configuration > End users > "
            "Satisfaction), so that customers are not asked twice")


def wanted(conn: Connector) -> dict:
    return {"name": marker(conn), "endpoint": conn.webhook_url, "http_method": "POST", "request_format": "json",
            "status": "active", "subscriptions": [SUBSCRIPTION]}


def find_webhook(conn: Connector) -> dict | None:
    pages = conn.api.paginate("webhooks", "webhooks", json_link("links", "next"),
                              params={"filter[name_contains]": marker(conn), "page[size]": 100})
    return provisioning.find_in_pages(pages, lambda page: page.get("webhooks") or [], ("name", marker(conn)))


def provision(conn: Connector, steps: Steps) -> None:
    """The work of provisioning.run(conn, provision, REMINDER)."""
    steps.doing("webhook")
    name, body = marker(conn), wanted(conn)
    webhook = provisioning.ensure(
        steps, find_webhook(conn), body, noun=f"webhook '{name}'", switch="status",
        does=f"sends ticket status changes to {conn.webhook_url}",
        create=lambda: conn.api.write("POST", "webhooks", "create webhook", {"webhook": body}).get("webhook") or {},
        update=lambda found: conn.api.write("PUT", f"webhooks/{found.get('id')}", "update webhook", {"webhook": body}))
    webhook_id = webhook.get("id")
    steps.doing("signing secret")
    data = conn.api.get_json(f"webhooks/{webhook_id}/signing_secret", "webhook signing secret")
    secret = (data.get("signing_secret") or {}).get("secret")
    if not secret:
        steps.failed(f"Zendesk showed no signing secret for webhook '{name}'")
        return
    steps.secrets["webhook_secret"] = secret
    steps.done(f"read the signing secret of webhook '{name}' (store it as the connector's webhook_secret)")


def test_delivery(conn: Connector) -> CheckResult:
    try:
        found = find_webhook(conn)
        if found is None:
            return CheckResult("test delivery", False, f"no webhook '{marker(conn)}' in Zendesk: provision first")
        event = {"type": TEST_EVENT, "id": str(uuid.uuid4()), "subject": f"zen:ces:{conn.id}",
                 "time": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), "detail": {}}
        request = {"endpoint": conn.webhook_url, "http_method": "POST", "request_format": "json",
                   "payload": json.dumps(event)}
        data = conn.api.write("POST", "webhooks/test", "test webhook", {"request": request},
                              params={"webhook_id": found.get("id")})
    except (ApiError, MissingSecret) as exc:
        return provisioning.delivery_failure(exc)
    return provisioning.intake_answer(conn, (data.get("response") or {}).get("status"))
