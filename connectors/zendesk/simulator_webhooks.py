"""The simulated Zendesk's Webhooks API (developer.zendesk.com/api-reference/webhooks/webhooks-api/
webhooks/): list with filter[name_contains] and cursor links, create (201 with the webhook),
update (PUT, 204), show signing secret, and test (POST /api/v2/webhooks/test?webhook_id=…: one
request through the webhook, signed with its secret, answering what the endpoint answered).
Only admins may manage webhooks (403 otherwise). A webhook subscribed to ticket status changes
becomes where the simulator sends them (`webhook_url`), signed with the simulator's secret,
which stands for the secret Zendesk generated."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone

import requests

from ces.connectors.simulator import StubRequest, StubResponse
from ces.connectors.zendesk.connector import STATUS_EVENT, sign

REQUIRED = ("name", "endpoint", "http_method", "request_format", "status")


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class WebhooksApi:
    """Mixed into ZendeskSimulator: it supplies server, secret, users, api_user_id, _authorized."""

    def add_webhook_routes(self) -> None:
        self.webhooks: dict[str, dict] = {}
        self.webhook_role = "admin"  # the API user's role for the Webhooks API; "agent" → 403
        one = r"/api/v2/webhooks/(?P<id>\w+)"
        for method, pattern, handler in (("GET", "/api/v2/webhooks", self._list_webhooks),
                                         ("POST", "/api/v2/webhooks", self._create_webhook),
                                         ("POST", "/api/v2/webhooks/test", self._test_webhook),
                                         ("PUT", one, self._update_webhook),
                                         ("GET", one + "/signing_secret", self._signing_secret)):
            self.server.route(method, pattern)(handler)

    def _admin_only(self, req: StubRequest) -> StubResponse | None:
        if not self._authorized(req):
            return StubResponse(401, {"error": "Couldn't authenticate you"})
        if self.webhook_role != "admin":
            return StubResponse(403, {"error": "Forbidden", "description": "You do not have access to this page."})
        return None

    def _invalid(self, body: dict) -> StubResponse | None:
        missing = [key for key in REQUIRED if not body.get(key)]
        if missing or body.get("status") not in ("active", "inactive"):
            return StubResponse(400, {"errors": [{"code": "InvalidValue", "title": "Invalid value",
                                                  "detail": f"invalid or missing: {', '.join(missing) or 'status'}"}]})
        return None

    def _listen(self, webhook: dict) -> None:
        if webhook["status"] == "active" and STATUS_EVENT in webhook.get("subscriptions", []):
            self.webhook_url = webhook["endpoint"]

    def _list_webhooks(self, req: StubRequest) -> StubResponse:
        if denied := self._admin_only(req):
            return denied
        contains = req.query.get("filter[name_contains]", [""])[0].lower()
        found = [w for w in self.webhooks.values() if contains in w["name"].lower()]
        return StubResponse(200, {"webhooks": found, "meta": {"has_more": False, "after_cursor": None,
                                                              "before_cursor": None},
                                  "links": {"next": None, "prev": None}})

    def _create_webhook(self, req: StubRequest) -> StubResponse:
        body = (req.json() or {}).get("webhook") or {}
        if denied := self._admin_only(req) or self._invalid(body):
            return denied
        webhook_id = "01" + uuid.uuid4().hex[:24].upper()
        webhook = {**body, "id": webhook_id, "subscriptions": body.get("subscriptions") or [],
                   "created_at": _now(), "created_by": str(self.api_user_id)}
        self.webhooks[webhook_id] = webhook
        self._listen(webhook)
        return StubResponse(201, {"webhook": webhook})

    def _update_webhook(self, req: StubRequest) -> StubResponse:
        body = (req.json() or {}).get("webhook") or {}
        if denied := self._admin_only(req) or self._invalid(body):
            return denied
        webhook = self.webhooks.get(req.params["id"])
        if webhook is None:
            return StubResponse(404, {"errors": [{"code": "WebhookNotFound", "title": "Webhook not found"}]})
        webhook.update({**body, "updated_at": _now(), "updated_by": str(self.api_user_id)})
        self._listen(webhook)
        return StubResponse(204)

    def _signing_secret(self, req: StubRequest) -> StubResponse:
        if denied := self._admin_only(req):
            return denied
        if req.params["id"] not in self.webhooks:
            return StubResponse(404, {"errors": [{"code": "WebhookNotFound", "title": "Webhook not found"}]})
        return StubResponse(200, {"signing_secret": {"algorithm": "SHA256", "secret": self.secret}})

    def _test_webhook(self, req: StubRequest) -> StubResponse:
        if denied := self._admin_only(req):
            return denied
        webhook = self.webhooks.get(req.query.get("webhook_id", [""])[0])
        request = (req.json() or {}).get("request") or {}
        if webhook is None or not request.get("endpoint"):
            return StubResponse(400, {"errors": [{"code": "InvalidValue", "title": "webhook_id or endpoint"}]})
        payload = request.get("payload") or "{}"
        raw = (payload if isinstance(payload, str) else json.dumps(payload)).encode()
        ts = _now()
        headers = {"Content-Type": "application/json", "User-Agent": "Zendesk Webhook",
                   "X-Zendesk-Webhook-Id": webhook["id"], "X-Zendesk-Webhook-Invocation-Id": str(uuid.uuid4()),
                   "X-Zendesk-Webhook-Signature-Timestamp": ts, "X-Zendesk-Webhook-Signature": sign(self.secret, ts, raw)}
        answer = requests.post(request["endpoint"], data=raw, headers=headers, timeout=10)
        self.deliveries.append({"invocation": headers["X-Zendesk-Webhook-Invocation-Id"],
                                "status": answer.status_code, "body": raw.decode()})
        return StubResponse(200, {"response": {"status": answer.status_code, "body": answer.text[:1000],
                                               "headers": [{"key": k, "value": v} for k, v in answer.headers.items()]}})
