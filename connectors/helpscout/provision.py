"""Help Scout provisioning: one webhook for the conversation events the connector reads.

Facts (developer.helpscout.com/mailbox-api/endpoints/webhooks/): GET /v2/webhooks lists them (HAL,
under _embedded.webhooks, with `state` enabled or disabled); POST creates one (201, its id in
the Resource-ID header, no body); PUT /v2/webhooks/{id} replaces one (204); DELETE removes one.
`secret` is ours to choose (40 characters at most) and is never shown again. `label` names it:
provisioning's marker. The request fields have no state, so a webhook Help Scout disabled
(after failed deliveries) is deleted and created again. Help Scout has no API that sends a
test webhook, so test_delivery stays unsupported.
"""

from __future__ import annotations

from ces.connectors import provisioning
from ces.connectors.api import json_link
from ces.connectors.base import Connector
from ces.connectors.provisioning import Steps, marker

REMINDER = ("switch off Help Scout's own satisfaction ratings (Manage > Inboxes > each inbox > Satisfaction "
            "Ratings), so that customers are not asked twice")


def wanted(conn: Connector) -> dict:
    return {"url": conn.webhook_url, "events": sorted(conn.webhook_events), "label": marker(conn),
            "payloadVersion": "V2", "notification": False}


def find_webhook(conn: Connector) -> dict | None:
    def webhooks(page: dict) -> list[dict]:
        return [{**w, "events": sorted(w.get("events") or [])} for w in (page.get("_embedded") or {}).get("webhooks") or []]

    pages = conn.api.paginate("webhooks", "webhooks", json_link("_links", "next", "href"))
    return provisioning.find_in_pages(pages, webhooks, ("label", marker(conn)), ("url", conn.webhook_url))


def provision(conn: Connector, steps: Steps) -> None:
    """The work of provisioning.run(conn, provision, REMINDER)."""
    name = marker(conn)
    secret, configured = provisioning.our_secret(conn)
    steps.doing("webhook")
    found = find_webhook(conn)
    if found is not None and found.get("state") not in (None, "enabled"):
        conn.api.request("DELETE", f"webhooks/{found['id']}", label="delete disabled webhook")
        steps.done(f"deleted webhook '{name}', which Help Scout had disabled, to create it again")
        found = None
    body = wanted(conn)
    found, compared, signed = provisioning.with_secret(found, body, "secret", secret, configured)

    def create() -> dict:
        resp = conn.api.request("POST", "webhooks", label="create webhook", json=signed)
        return {"id": resp.headers.get("Resource-ID")}

    provisioning.ensure(
        steps, found, compared, noun=f"webhook '{name}'",
        switch="state", does=f"sends {', '.join(body['events'])} to {conn.webhook_url}", create=create,
        update=lambda old: conn.api.request("PUT", f"webhooks/{old['id']}", label="update webhook", json=signed))
    provisioning.keep_secret(steps, secret, configured, f"webhook '{name}'")
