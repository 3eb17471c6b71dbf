"""The simulated Zammad's webhook and trigger APIs (docs.zammad.org/en/latest/api/webhook.html and
…/api/trigger.html): list (a JSON array), create (201 with the record), update (PUT, 200 with the
record). The signature token is never shown again ("**********"). Managing them needs the admin
permissions admin.webhook and admin.trigger (403 "Not authorized (user)!" otherwise). An active
trigger on state changes that calls an active webhook is what makes the simulator send its
webhooks there, signed with that webhook's token."""

from __future__ import annotations

import itertools
from datetime import datetime, timezone

from ces.connectors.simulator import StubRequest, StubResponse

MASK = "**********"
REQUIRED = {"webhooks": ("name", "endpoint"), "triggers": ("name", "condition", "perform")}


class AdminApi:
    """Mixed into ZammadSimulator: it supplies server, users, api_user_id, _guard, _now."""

    def add_admin_routes(self) -> None:
        self.admin = True  # whether the API user has admin.webhook and admin.trigger
        self.records: dict[str, dict[int, dict]] = {"webhooks": {}, "triggers": {}}
        self._record_ids = itertools.count(1)
        for kind in self.records:
            self.server.route("GET", f"/api/v1/{kind}")(lambda req, kind=kind: self._list_records(req, kind))
            self.server.route("POST", f"/api/v1/{kind}")(lambda req, kind=kind: self._save_record(req, kind))
            self.server.route("PUT", rf"/api/v1/{kind}/(?P<id>\d+)")(lambda req, kind=kind: self._save_record(req, kind))

    def _admin_guard(self, req: StubRequest) -> StubResponse | None:
        if denied := self._guard(req):
            return denied
        if not self.admin:
            return StubResponse(403, {"error": "Not authorized (user)!", "error_human": "Not authorized (user)!"})
        return None

    def _shown(self, record: dict) -> dict:
        return {**record, "signature_token": MASK} if record.get("signature_token") else record

    def _list_records(self, req: StubRequest, kind: str) -> StubResponse:
        return self._admin_guard(req) or StubResponse(200, [self._shown(r) for r in self.records[kind].values()])

    def _save_record(self, req: StubRequest, kind: str) -> StubResponse:
        if denied := self._admin_guard(req):
            return denied
        body = req.json() or {}
        existing = self.records[kind].get(int(req.params["id"])) if "id" in req.params else {}
        if existing is None:
            return self._not_found(kind[:-1].capitalize(), req.params["id"])
        record = {**existing, **body}
        missing = [key for key in REQUIRED[kind] if not record.get(key)]
        if missing:
            message = f"{', '.join(missing)} can't be blank"
            return StubResponse(422, {"error": message, "error_human": message})
        record.setdefault("id", next(self._record_ids))
        record.update(updated_by_id=self.api_user_id, updated_at=_now_text())
        self.records[kind][record["id"]] = record
        self._listen()
        return StubResponse(200 if existing else 201, self._shown(record))

    def _listen(self) -> None:
        """Where state changes go: the webhook of an active trigger on ticket.state_id."""
        for trigger in self.records["triggers"].values():
            webhook_id = ((trigger.get("perform") or {}).get("notification.webhook") or {}).get("webhook_id")
            webhook = self.records["webhooks"].get(int(webhook_id or 0))
            if trigger.get("active") and "ticket.state_id" in (trigger.get("condition") or {}) \
                    and webhook and webhook.get("active"):
                self.webhook_url, self.secret = webhook["endpoint"], webhook.get("signature_token") or ""
                return


def _now_text() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
