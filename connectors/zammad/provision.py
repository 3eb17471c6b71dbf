"""Zammad provisioning: a webhook and the trigger that calls it on every state change.

Facts (docs.zammad.org/en/latest/api/webhook.html, …/api/trigger.html): GET/POST /api/v1/webhooks
and PUT /api/v1/webhooks/{id} (permission admin.webhook); the HMAC-SHA1 signature token is ours
to choose, and Zammad never shows it again (it answers "**********"). Triggers likewise under
/api/v1/triggers (admin.trigger), calling a webhook by the perform action
{"notification.webhook": {"webhook_id": …}}. Zammad has no API that sends a test webhook, so
test_delivery stays unsupported: the wizard waits for the first real one.

The trigger fires on every state change (the setup text's step 2 says why); the webhook sends
Zammad's default payload, which the connector reads.
"""

from __future__ import annotations

from ces.connectors import provisioning
from ces.connectors.base import Connector
from ces.connectors.provisioning import Steps, marker

REMINDER = ("check under Settings > Manage > Trigger that no other trigger e-mails customers a survey when a ticket "
            "closes; add your own closed-type states to solved_states")


def webhook_wanted(conn: Connector) -> dict:
    return {"name": marker(conn), "endpoint": conn.webhook_url, "http_method": "post", "ssl_verify": True,
            "customized_payload": False, "active": True}


def trigger_wanted(conn: Connector, webhook_id: object) -> dict:
    return {"name": marker(conn), "condition": {"ticket.state_id": {"operator": "has changed"}},
            "perform": {"notification.webhook": {"webhook_id": webhook_id}}, "activator": "action",
            "execution_condition_mode": "selective", "active": True}


def provision(conn: Connector, steps: Steps) -> None:
    """The work of provisioning.run(conn, provision, REMINDER)."""
    name = marker(conn)
    secret, configured = provisioning.our_secret(conn)
    steps.doing("webhook")
    found = provisioning.first_named(conn.api.get_json("webhooks", "webhooks") or [], "name", name)
    found, compared, signed = provisioning.with_secret(found, webhook_wanted(conn), "signature_token", secret,
                                                       configured)
    webhook = provisioning.ensure(
        steps, found, compared,
        noun=f"webhook '{name}'", switch="active", does=f"sends ticket changes to {conn.webhook_url}, signed",
        create=lambda: conn.api.write("POST", "webhooks", "create webhook", signed),
        update=lambda old: conn.api.write("PUT", f"webhooks/{old['id']}", "update webhook", signed))
    provisioning.keep_secret(steps, secret, configured, f"webhook '{name}'")
    steps.doing("trigger")
    wanted = trigger_wanted(conn, webhook.get("id"))
    found = provisioning.first_named(conn.api.get_json("triggers", "triggers") or [], "name", name)
    provisioning.ensure(
        steps, found, wanted, noun=f"trigger '{name}'", switch="active",
        does=f"calls webhook '{name}' whenever a ticket's state changes",
        create=lambda: conn.api.write("POST", "triggers", "create trigger", wanted),
        update=lambda old: conn.api.write("PUT", f"triggers/{old['id']}", "update trigger", wanted))
