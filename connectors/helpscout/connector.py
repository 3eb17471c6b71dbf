"""Help Scout connector (Mailbox API 2.0).

Facts (developer.helpscout.com/webhooks and /mailbox-api):

- Webhooks: events such as convo.status carry the v2 Conversation object as JSON; the event name
  is in X-HelpScout-Event and X-HelpScout-Signature = base64(HMAC-SHA1(secret, raw body)). The
  secret is chosen by the admin (40 characters at most). convo.deleted carries only {"id": …}.
- No delivery id and no timestamp are sent: no replay window can be enforced, and the
  idempotency key is derived from what identifies one status change (see delivery_key). The body
  cannot be hashed instead: it holds relative text ("customerWaitingSince.friendly": "20 hours
  ago") that changes between retries.
- Status: active, pending, closed, spam. Help Scout has no separate "solved": closed *is* the
  resolution, and nothing closes a conversation further, so closed → SOLVED and no Help Scout
  state maps to CLOSED. spam and a deleted conversation → DELETED (a survey not yet sent is
  cancelled; a spam conversation is never surveyed).
- API: OAuth2 client credentials (app id + app secret → POST /v2/oauth2/token, a bearer token
  valid `expires_in` seconds, two days today). Rate limit per account and minute, by plan; write
  requests count as two; a 429 carries X-RateLimit-Retry-After (not Retry-After).
- Threads (GET /v2/conversations/{id}/threads, newest first, HAL pages): customer, message (an
  agent's reply), note, chat, phone, forwardparent/forwardchild and lineitem (system events).
  A thread's `status` is the conversation's status after it, or "nochange"; `assignedTo` the
  assignee after it. Line items say what changed in `action.type`, kebab-case in v2
  ("changed-ticket-status", "changed-ticket-assignee", "moved-from-mailbox", "merged",
  "automatic-workflow", …: the v1 field guide lists the same actions; the v2 spellings are as
  Help Scout migration tools read them [C]).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from datetime import datetime
from typing import Any

import requests
from pydantic import model_validator

from ces.config.models import ConnectorSettings
from ces.connectors import base, markup, provisioning
from ces.connectors.api import ApiClient, bearer, optional_str
from ces.connectors.base import CheckResult, Connector, InboundRequest, Person, Ticket, TicketEvent, TicketHistory
from ces.connectors.errors import ApiError, BadSignature, PermanentApiError, Unparseable
from ces.connectors.helpscout import provision as helpscout_provision
from ces.connectors.models import Actor, Channel, EntryKind, EventKind, HistoryEntry, Status
from ces.connectors.timeparse import is_digits, parse_time

API_BASE = "https://api.helpscout.net"
WEB_BASE = "https://secure.helpscout.net"
STATUS_EVENT = "convo.status"
DELETED_EVENT = "convo.deleted"
# A customer's reply reopens a closed conversation; whether Help Scout also sends convo.status
# for that implicit change is not documented, so the reply event states the status too.
CUSTOMER_REPLY_EVENT = "convo.customer.reply.created"
STATUS_EVENTS = frozenset({STATUS_EVENT, CUSTOMER_REPLY_EVENT})

_STATUSES = {"active": Status.OPEN, "open": Status.OPEN, "pending": Status.PENDING, "closed": Status.SOLVED,
             "spam": Status.DELETED}

# Thread types that are messages the customer sees, and those that are not.
_MESSAGE_THREADS = {"customer", "message", "reply", "chat", "phone", "beaconchat"}
_NOTE_THREADS = {"note", "forwardparent", "forwardchild"}
# Threads that were never sent (a draft, or held by collision detection).
_UNSENT_STATES = {"draft", "underreview"}

TOKEN_MARGIN_SECONDS = 300  # renew a token this long before Help Scout says it expires
MAILBOX_CACHE_SECONDS = 3600


def status_of(value: object) -> Status | None:
    return _STATUSES.get(str(value or "").strip().lower())


def channel_of(conversation_type: object, source_type: object = None) -> Channel:
    """A conversation's `type` (email, chat, phone), refined by where an e-mail came from."""
    kind, source = str(conversation_type or "").lower(), str(source_type or "").lower()
    if kind == "chat" or source in ("chat", "beaconchat"):
        return Channel.CHAT
    if kind == "phone" or source == "phone":
        return Channel.PHONE
    if source in ("beacon", "web", "mobile", "docs"):
        return Channel.WEB
    if source in ("api", "coreapi"):
        return Channel.API
    if kind == "email" or source in ("email", "emailfwd"):
        return Channel.EMAIL
    return Channel.OTHER


def sign(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha1).digest()).decode()


def delivery_key(event: str, conversation: dict) -> str:
    """The idempotency key Help Scout does not send: the event, the conversation, its new status
    and the times that move with each status change (closedAt for a close, userUpdatedAt for an
    agent's change, customerWaitingSince for a customer's reply that reopens)."""
    waiting = conversation.get("customerWaitingSince")
    stamps = [conversation.get("status"), conversation.get("state"), conversation.get("closedAt"),
              conversation.get("userUpdatedAt"), conversation.get("userModifiedAt"), conversation.get("modifiedAt"),
              waiting.get("time") if isinstance(waiting, dict) else None]
    digest = hashlib.sha256(json.dumps(stamps, default=str).encode()).hexdigest()[:16]
    return f"{event}:{conversation.get('id')}:{conversation.get('status') or conversation.get('state')}:{digest}"


class HelpScoutSettings(ConnectorSettings):
    default_base_url = API_BASE
    secret_names = {"webhook_secret": True, "app_id": True, "app_secret": True}
    kind: str = "helpscout"
    api_user_id: str | None = None  # the Help Scout user the app acts as: its threads are ours

    @model_validator(mode="after")
    def _no_rotation_for_app_credentials(self):
        for name in ("app_id", "app_secret"):
            if isinstance(getattr(self, f"{name}_env"), list):
                raise ValueError(f"{name}_env names one variable: only webhook_secret_env takes a list (rotation)")
        return self


class HelpScoutApi(ApiClient):
    """Help Scout's API takes a client-credentials token, shared by a connector's threads until
    shortly before it expires; one revoked before its time (a 401) is renewed once."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._token: tuple[str, float] | None = None  # (access token, monotonic expiry)
        self._token_lock = threading.Lock()

    def access_token(self, app_id: str | None, app_secret: str | None) -> str:
        with self._token_lock:
            if self._token and time.monotonic() < self._token[1]:
                return self._token[0]
            resp = self.http.request("POST", self.url("oauth2/token"), label="Help Scout OAuth token",
                                     idempotent=True, data={"grant_type": "client_credentials",
                                                            "client_id": app_id, "client_secret": app_secret})
            try:
                body = resp.json()
                token, lifetime = body["access_token"], float(body.get("expires_in") or 0)
            except (ValueError, KeyError, TypeError):
                raise PermanentApiError("Help Scout OAuth token: the answer holds no access_token") from None
            self._token = (token, time.monotonic() + max(0.0, lifetime - TOKEN_MARGIN_SECONDS))
            return token

    def request(self, method: str, path: str, *, label: str, **kwargs: Any) -> requests.Response:
        had_token = self._token is not None
        try:
            return super().request(method, path, label=label, **kwargs)
        except PermanentApiError as exc:
            if exc.status != 401 or not had_token:  # a fresh token refused: the credentials are wrong
                raise
            with self._token_lock:
                self._token = None
            return super().request(method, path, label=label, **kwargs)


class HelpScoutConnector(Connector):
    kind = "helpscout"
    title = "Help Scout"
    Settings = HelpScoutSettings
    capabilities = base.EVERYTHING | {base.PROVISION}
    webhook_events = (STATUS_EVENT, CUSTOMER_REPLY_EVENT, DELETED_EVENT)  # what provisioning subscribes to
    # 200 requests a minute is the lowest plan's figure (and the old v1 limit); Help Scout counts
    # a write as two requests while the shared limiter counts calls, so budget half of it.
    default_rate_limit_per_minute = 100
    delivery = base.DeliveryRule("X-HelpScout-Event (unsigned) + the conversation's id, status and change times, "
                                 "or the signed body", signed=False)
    settings: HelpScoutSettings
    api_class = HelpScoutApi

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._mailboxes: tuple[dict[str, str], float] | None = None

    @property
    def rate_key(self) -> str:
        """Help Scout limits per account and its API host is shared by all accounts: budget per
        app (a hash of its id), so that connectors using the same app share one budget."""
        if self.settings.base_url:
            return super().rate_key
        try:
            app = hashlib.sha256((self.settings.secret("app_id") or "").encode()).hexdigest()[:16]
        except Exception:  # a missing secret is reported by `ces config check`, not here
            return super().rate_key
        return f"{self.kind}:app:{app}"

    # --- intake -------------------------------------------------------------------------------
    def verify(self, request: InboundRequest) -> None:
        """X-HelpScout-Signature over the raw body. Help Scout signs no timestamp: no stale check."""
        signature = request.header("x-helpscout-signature")
        if not signature:
            raise BadSignature("missing X-HelpScout-Signature")
        given = signature.strip().encode()
        if not any(hmac.compare_digest(sign(secret, request.body).encode(), given)
                   for secret in self.settings.secret_values("webhook_secret")):
            raise BadSignature("signature does not match the webhook's secret key")

    def signed_key(self, request: InboundRequest) -> str | None:
        """The signed body: the event name in X-HelpScout-Event, part of delivery_key, is not signed.
        A retry may differ in its relative text (the key above catches it); a replay is identical."""
        return request.digest()

    def parse(self, request: InboundRequest) -> list[TicketEvent]:
        """convo.status → STATUS (closed → SOLVED, active → OPEN, pending → PENDING, spam → DELETED);
        convo.customer.reply.created → STATUS with the conversation's status after the reply (a
        reply to a closed conversation reopens it); convo.deleted → STATUS DELETED; every other
        event → IGNORED (the API tells assignments, moves and replies, so they need not be kept
        from webhooks). The previous status is not in the payload."""
        event = (request.header("x-helpscout-event") or "").strip()
        if not event:
            raise Unparseable("missing X-HelpScout-Event header")
        data = request.json()
        if not isinstance(data, dict):
            raise Unparseable("body is not a JSON object")
        if not event.startswith("convo."):
            conversation = _id(data.get("conversationId")) if event == "satisfaction.ratings" else None
            return [TicketEvent(delivery_id=f"{event}:{request.digest()[:32]}",
                                kind=EventKind.IGNORED, ticket_id=conversation, occurred_at=request.received_at,
                                summary=event[:60])]
        ticket_id = _id(data.get("id"))
        if not ticket_id:
            raise Unparseable(f"{event[:40]} without a conversation id")
        if event == DELETED_EVENT:
            return [TicketEvent(delivery_id=f"{event}:{ticket_id}", kind=EventKind.STATUS, ticket_id=ticket_id,
                                status=Status.DELETED, occurred_at=request.received_at, summary="conversation deleted",
                                payload={"id": data.get("id")})]
        status = Status.DELETED if str(data.get("state")).lower() == "deleted" else status_of(data.get("status"))
        base_event = dict(delivery_id=delivery_key(event, data), ticket_id=ticket_id,
                          occurred_at=_occurred(data) or request.received_at, payload=_kept(data))
        if event not in STATUS_EVENTS:
            return [TicketEvent(kind=EventKind.IGNORED, summary=event[:60], **base_event)]
        if status is None:
            raise Unparseable(f"{event} with an unknown status {str(data.get('status'))[:20]!r}")
        actor = None
        if status == Status.SOLVED and event == STATUS_EVENT:
            actor = _id(data.get("closedBy")) or _id((data.get("closedByUser") or {}).get("id"))
        summary = f"status {str(data.get('status'))[:20]}" + (" after a customer reply" if event != STATUS_EVENT else "")
        return [TicketEvent(kind=EventKind.STATUS, status=status, actor_id=actor, summary=summary, **base_event)]

    # --- API: authentication ------------------------------------------------------------------
    def auth(self) -> dict[str, Any]:
        s = self.settings
        return bearer(self.api.access_token(s.secret("app_id"), s.secret("app_secret")))

    def api_root(self) -> str:
        return f"{self.settings.api_base}/v2"

    # --- API: reads ---------------------------------------------------------------------------

    def _mailbox_names(self) -> dict[str, str]:
        """Mailbox id → name (the "group" of a conversation); {} when they cannot be read."""
        if self._mailboxes and time.monotonic() < self._mailboxes[1]:
            return self._mailboxes[0]
        names: dict[str, str] = {}
        try:
            for page in range(1, 11):
                data = self.api.get_json("mailboxes", "mailboxes", page=page)
                for box in (data.get("_embedded") or {}).get("mailboxes") or []:
                    names[str(box.get("id"))] = box.get("name") or str(box.get("id"))
                if page >= int((data.get("page") or {}).get("totalPages") or 1):
                    break
        except PermanentApiError:
            return names
        self._mailboxes = (names, time.monotonic() + MAILBOX_CACHE_SECONDS)
        return names

    def fetch_ticket(self, ticket_id: str) -> Ticket:
        data = self.api.get_json(f"conversations/{ticket_id}", "conversation")
        return ticket_from_api(data, self._mailbox_names())

    def fetch_history(self, ticket_id: str, ticket: Ticket | None = None) -> TicketHistory:
        """Status, assignee and mailbox changes and the messages, all from the threads (Help Scout
        keeps no counters of its own)."""
        conversation = self.api.get_json(f"conversations/{ticket_id}", "conversation")
        mailboxes = self._mailbox_names()
        history = TicketHistory(ticket=ticket_from_api(conversation, mailboxes))
        try:
            threads = self._threads(ticket_id)
        except PermanentApiError as exc:
            history.missing.append(f"threads: {exc.detail}")
            return history
        history.entries = self._entries(conversation, threads, mailboxes)
        return history

    def _threads(self, ticket_id: str) -> list[dict]:
        threads: list[dict] = []
        for page in range(1, 51):
            data = self.api.get_json(f"conversations/{ticket_id}/threads", "threads", page=page)
            threads += (data.get("_embedded") or {}).get("threads") or []
            if page >= int((data.get("page") or {}).get("totalPages") or 1):
                break
        return threads

    def _actor(self, thread: dict) -> Actor:
        action = str((thread.get("action") or {}).get("type") or "")
        by = thread.get("createdBy") or {}
        if action == "automatic-workflow" or not by:
            return Actor.SYSTEM
        if by.get("type") == "customer":
            return Actor.CUSTOMER
        return Actor.US if self.is_ours(_id(by.get("id"))) else Actor.AGENT

    def _entries(self, conversation: dict, threads: list[dict], mailboxes: dict[str, str]) -> list[HistoryEntry]:
        threads = sorted((t for t in threads if parse_time(t.get("createdAt"))),
                         key=lambda t: (parse_time(t.get("createdAt")), _int(t.get("id"))))
        # Mailbox moves name the mailbox moved *from*; the one moved to is the next move's
        # source, or the current mailbox for the last move.
        moves = [t for t in threads if (t.get("action") or {}).get("type") == "moved-from-mailbox"]
        sources = [_moved_from(t) for t in moves]
        current = str(conversation.get("mailboxId") or "")
        targets = [*sources[1:], current]

        def box(mailbox_id: str | None) -> str | None:
            return None if not mailbox_id else mailboxes.get(mailbox_id, mailbox_id)

        out: list[HistoryEntry] = []
        created = parse_time(conversation.get("createdAt"))
        first_box = sources[0] if moves and sources[0] else (None if moves else current)
        if created and first_box:
            out.append(HistoryEntry(at=created, kind=EntryKind.GROUP, actor=Actor.SYSTEM, value=box(first_box),
                                    source_id="created"))
        status: Status | None = None
        assignee: str | None = None
        conversation_channel = channel_of(conversation.get("type"), (conversation.get("source") or {}).get("type"))
        for thread in threads:
            at, actor, source_id = parse_time(thread["createdAt"]), self._actor(thread), optional_str(thread.get("id"))
            kind, action = str(thread.get("type") or ""), str((thread.get("action") or {}).get("type") or "")
            if action == "moved-from-mailbox":
                i = moves.index(thread)
                out.append(HistoryEntry(at=at, kind=EntryKind.GROUP, actor=actor, value=box(targets[i]),
                                        previous=box(sources[i]), source_id=source_id))
            new_status = status_of(thread.get("status"))
            if new_status is not None and new_status != status:
                out.append(HistoryEntry(at=at, kind=EntryKind.STATUS, actor=actor, value=new_status.value,
                                        previous=status.value if status else None, source_id=source_id))
                status = new_status
            if action == "changed-ticket-assignee" or isinstance(thread.get("assignedTo"), dict):
                new_assignee = _person_name(thread.get("assignedTo"))
                if new_assignee != assignee and (new_assignee or action == "changed-ticket-assignee"):
                    out.append(HistoryEntry(at=at, kind=EntryKind.ASSIGNEE, actor=actor, value=new_assignee,
                                            previous=assignee, source_id=source_id))
                    assignee = new_assignee
            if str(thread.get("state") or "").lower() in _UNSENT_STATES:
                continue
            if kind in _MESSAGE_THREADS or kind in _NOTE_THREADS:
                out.append(HistoryEntry(at=at, kind=EntryKind.MESSAGE if kind in _MESSAGE_THREADS else EntryKind.NOTE,
                                        actor=actor, channel=_thread_channel(thread, conversation_channel),
                                        source_id=source_id))
        return out

    def recent_tickets(self, requester: Person, since: datetime) -> list[Ticket]:
        """The requester's conversations, newest first, by e-mail (or customer id), until `since`."""
        if requester.email:
            query = f'(email:"{requester.email}")'
        elif _id(requester.id):
            query = f"(customerIds:{requester.id})"
        else:
            return []
        mailboxes = self._mailbox_names()
        out: list[Ticket] = []
        for page in range(1, 21):
            data = self.api.get_json("conversations", "requester's conversations", status="all", query=query,
                                     sortField="createdAt", sortOrder="desc", page=page)
            for raw in (data.get("_embedded") or {}).get("conversations") or []:
                ticket = ticket_from_api(raw, mailboxes)
                if ticket.created_at and ticket.created_at < since:
                    return out
                out.append(ticket)
            if page >= int((data.get("page") or {}).get("totalPages") or 1):
                break
        return out

    # --- API: writes --------------------------------------------------------------------------
    def post_internal_note(self, ticket_id: str, text: str) -> None:
        # A thread's text is HTML in Help Scout (it is shown as the thread's body): escaped, lines kept.
        self.api.write("POST", f"conversations/{ticket_id}/notes", "internal note", {"text": markup.html(text)})

    def post_public_reply(self, ticket_id: str, text: str) -> None:
        """A reply needs the customer's id; the conversation keeps the status it has."""
        conversation = self.api.get_json(f"conversations/{ticket_id}", "conversation")
        customer = _id((conversation.get("primaryCustomer") or {}).get("id"))
        if not customer:
            raise PermanentApiError(f"Help Scout conversation {ticket_id} has no customer to reply to")
        body: dict[str, Any] = {"customer": {"id": int(customer)}, "text": text}
        if conversation.get("status") in ("active", "pending", "closed"):
            body["status"] = conversation["status"]  # a reply must not reopen what is closed
        self.api.write("POST", f"conversations/{ticket_id}/reply", "public reply", body)

    def add_tags(self, ticket_id: str, tags: list[str]) -> None:
        self._retag(ticket_id, lambda current: list(dict.fromkeys([*current, *tags])))

    def remove_tags(self, ticket_id: str, tags: list[str]) -> None:
        self._retag(ticket_id, lambda current: [t for t in current if t not in tags])

    def _retag(self, ticket_id: str, change) -> None:
        """PUT replaces the whole set, so read the current tags first and write the changed set."""
        conversation = self.api.get_json(f"conversations/{ticket_id}", "conversation")
        current = [t.get("tag") for t in conversation.get("tags") or [] if isinstance(t, dict) and t.get("tag")]
        wanted = change(current)
        if wanted != current:
            self.api.write("PUT", f"conversations/{ticket_id}/tags", "tags", {"tags": wanted})

    def reopen(self, ticket_id: str, *, group: str | None = None) -> None:
        """Active again; `group` is a mailbox (id or name) to move the conversation to."""
        if group:
            mailbox = group if is_digits(str(group)) else next(
                (i for i, name in self._mailbox_names().items() if name == group), None)
            if mailbox is None:
                raise PermanentApiError(f"Help Scout has no mailbox named {group!r} (or it is not visible to the app)")
            self.api.write("PATCH", f"conversations/{ticket_id}", "move",
                           {"op": "move", "path": "/mailboxId", "value": int(mailbox)})
        self.api.write("PATCH", f"conversations/{ticket_id}", "reopen",
                       {"op": "replace", "path": "/status", "value": "active"})

    def create_followup(self, ticket_id: str, subject: str, text: str) -> str:
        """A new conversation with the same customer in the same mailbox, holding the text as a
        note (nothing is sent to the customer); its id comes back in Resource-ID."""
        original = self.api.get_json(f"conversations/{ticket_id}", "conversation")
        customer = _id((original.get("primaryCustomer") or {}).get("id"))
        if not customer:
            raise PermanentApiError(f"Help Scout conversation {ticket_id} has no customer for a follow-up")
        note = f"{text}\n\nFollow-up of {WEB_BASE}/conversation/{ticket_id}/{original.get('number', '')}"
        resp = self.api.request("POST", "conversations", label="follow-up conversation", json={
            "subject": subject, "customer": {"id": int(customer)}, "mailboxId": original.get("mailboxId"),
            "type": original.get("type") or "email", "status": "active",
            "threads": [{"type": "note", "text": markup.html(note)}]})
        created = resp.headers.get("Resource-ID") or (resp.headers.get("Location") or "").rstrip("/").rpartition("/")[2]
        if not created:
            raise PermanentApiError("Help Scout created the follow-up but did not say its id")
        return created

    # --- admin --------------------------------------------------------------------------------
    def setup_instructions(self) -> str:
        var = self.env_var
        return self.setup_text(secret_var=var("webhook_secret", "HELPSCOUT_WEBHOOK_SECRET"),
                               app_id_var=var("app_id", "HELPSCOUT_APP_ID"),
                               app_secret_var=var("app_secret", "HELPSCOUT_APP_SECRET"))

    def provision(self) -> base.Provisioned:
        return provisioning.run(self, helpscout_provision.provision, helpscout_provision.REMINDER)

    def check(self) -> list[CheckResult]:
        try:
            me = self.api.get_json("users/me", "current user")
        except ApiError as exc:
            return [CheckResult("authentication", False, exc.detail)]
        if not me.get("id"):
            return [CheckResult("authentication", False, "Help Scout did not say which user the app acts as")]
        name = _person_name(me) or me.get("email")
        results = [CheckResult("authentication", True, f"the app acts as {name} ({me.get('role', 'user')})",
                               {"user_id": str(me["id"])})]
        try:
            data = self.api.get_json("mailboxes", "mailboxes")
            count = len((data.get("_embedded") or {}).get("mailboxes") or [])
            results.append(CheckResult("internal notes", count > 0,
                                       f"can work in {count} mailbox(es)" if count
                                       else "the user sees no mailbox: give it access to your mailboxes"))
            results.append(CheckResult("history", count > 0, "conversations and their threads are readable in "
                                       "those mailboxes" if count else "no mailbox, so no conversation to read"))
        except ApiError as exc:
            results.append(CheckResult("mailboxes", False, exc.detail))
        return results + self.own_user_check(me["id"], "the app acts as user")


def _thread_channel(thread: dict, conversation_channel: Channel) -> Channel:
    """A chat or phone thread is that channel; a customer's thread came the way its source says.
    An agent's thread is written in the web app ("source": web) but reaches the customer the way
    the conversation runs, so it takes the conversation's channel."""
    kind = str(thread.get("type") or "")
    if kind in ("chat", "beaconchat"):
        return Channel.CHAT
    if kind == "phone":
        return Channel.PHONE
    if (thread.get("createdBy") or {}).get("type") == "customer":
        channel = channel_of(None, (thread.get("source") or {}).get("type"))
        return conversation_channel if channel == Channel.OTHER else channel
    return conversation_channel


def _id(value: object) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text if is_digits(text) and text != "0" else None


def _int(value: object) -> int:
    try:
        return int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0


def _person_name(person: object) -> str | None:
    if not isinstance(person, dict) or not _id(person.get("id")):
        return None
    first = person.get("first") or person.get("firstName")
    last = person.get("last") or person.get("lastName")
    return " ".join(p for p in (first, last) if p).strip() or person.get("email") or str(person.get("id"))


def _moved_from(thread: dict) -> str | None:
    """The mailbox a move came from: `fromMailbox` or the action's associated mailbox, when told."""
    source = thread.get("fromMailbox")
    if isinstance(source, dict) and _id(source.get("id")):
        return str(source["id"])
    entities = (thread.get("action") or {}).get("associatedEntities") or {}
    mailbox = entities.get("mailbox") if isinstance(entities, dict) else None
    return _id(mailbox.get("id") if isinstance(mailbox, dict) else mailbox)


def _occurred(data: dict) -> datetime | None:
    """When the status changed: closedAt for a close, else the latest of the agent's and the
    customer's last action (a reopen by a customer reply moves only the latter)."""
    if str(data.get("status")) == "closed" and parse_time(data.get("closedAt")):
        return parse_time(data.get("closedAt"))
    waiting = data.get("customerWaitingSince")
    times = [t for t in (parse_time(data.get("userUpdatedAt")),
                         parse_time(waiting.get("time") if isinstance(waiting, dict) else None)) if t]
    return max(times) if times else None


def _kept(data: dict) -> dict:
    """What is stored of a delivery: ids, status and times, no customer data or message text."""
    return {k: data.get(k) for k in ("id", "number", "status", "state", "mailboxId", "closedBy", "closedAt",
                                     "userUpdatedAt", "createdAt") if k in data}


def ticket_from_api(c: dict, mailboxes: dict[str, str] | None = None) -> Ticket:
    """A ticket from a v2 Conversation object (GET /v2/conversations/{id} or a list entry)."""
    customer = c.get("primaryCustomer") or {}
    source = c.get("source") or {}
    mailbox = optional_str(c.get("mailboxId"))
    status = Status.DELETED if str(c.get("state")).lower() == "deleted" else status_of(c.get("status"))
    name = " ".join(p for p in (customer.get("first"), customer.get("last")) if p).strip() or None
    raw_channel = "/".join(p for p in (optional_str(c.get("type")), optional_str(source.get("type"))) if p) or None
    return Ticket(
        id=str(c["id"]),
        status=status or Status.OPEN,
        subject=c.get("subject"),
        requester=Person(id=_id(customer.get("id")), email=customer.get("email"), name=name),
        assignee=_person_name(c.get("assignee")),
        assignee_id=_id((c.get("assignee") or {}).get("id")),
        assignee_email=(c.get("assignee") or {}).get("email"),
        group=(mailboxes or {}).get(mailbox or "", mailbox),
        channel=channel_of(c.get("type"), source.get("type")),
        raw_channel=raw_channel,
        tags=[t.get("tag") for t in c.get("tags") or [] if isinstance(t, dict) and t.get("tag")],
        created_at=parse_time(c.get("createdAt")),
        updated_at=max((t for t in (parse_time(c.get("userUpdatedAt")), parse_time(c.get("closedAt"))) if t),
                       default=None),
        url=f"{WEB_BASE}/conversation/{c['id']}/{c.get('number', '')}".rstrip("/"),
    )
