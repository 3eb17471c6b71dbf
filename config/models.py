"""Typed sections of the configuration. Every section forbids unknown keys, so a typo is an error."""

from __future__ import annotations

import os
import re
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from ces.config.secrets import SecretsModel

_URL = re.compile(r"^https?://[^\s/?#]+(?::\d+)?(/[^\s?#]*)?$")


DATABASE_DRIVERS = ("sqlite", "sqlite+pysqlite", "postgresql", "postgres", "postgresql+psycopg")


def check_database_url(value: str) -> str:
    """SQLite or PostgreSQL through psycopg, the drivers this project installs. The value is not
    quoted back: it may hold a password."""
    try:
        driver = make_url(value).drivername
    except (ArgumentError, ValueError):  # a port that is no number, e.g. a password without its host
        driver = None
    if driver not in DATABASE_DRIVERS:
        raise ValueError("not a database URL this version can use: sqlite:///path/to/ces.db or "
                         "postgresql://user:password@host:5432/name")
    return value


def check_http_url(value: str) -> str:
    if not _URL.match(value or ""):
        raise ValueError(f"{value!r} is not an http(s) URL such as https://example.com")
    return value.rstrip("/")


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SmtpSettings(SecretsModel):
    secret_names = {"username": False, "password": False}
    host: str = "127.0.0.1"
    port: int = Field(25, ge=1, le=65535)
    sender: str = "Support <support@example.com>"
    reply_to: str | None = None
    starttls: bool = False
    ssl: bool = False
    timeout_seconds: float = Field(10.0, gt=0)
    # Connections kept open per worker process (worker/smtp_pool.py): 0 opens one per message.
    pool_size: int = Field(4, ge=0, le=100)
    messages_per_connection: int = Field(100, ge=1)  # then QUIT and a fresh one
    noop_after_idle_seconds: float = Field(2.0, ge=0)  # a NOOP checks a connection idle this long
    max_idle_seconds: float = Field(60.0, gt=0)  # servers drop idle clients; closed before they do


SCALE_POINTS = {"ces7": 7, "effort5": 5}
_HHMM = r"^([01]\d|2[0-3]):[0-5]\d$"


class Wording(Section):
    """Words that replace the built-in (translated) ones for one language."""

    subject: str | None = None  # may use {ticket} and {company}
    question: str | None = None  # may use {company}
    labels: list[str] | None = None  # one per point of the scale, lowest first


class QuietHours(Section):
    """No survey is sent between start and end in the requester's time zone; it waits for end."""

    start: str = Field("21:00", pattern=_HHMM)
    end: str = Field("08:00", pattern=_HHMM)


class Exclusions(Section):
    """Tickets that never get a survey (matched case-insensitively)."""

    tags: list[str] = []
    channels: list[str] = []  # email, chat, messaging, phone, web, social, api, other
    groups: list[str] = []
    brands: list[str] = []
    organizations: list[str] = []
    email_domains: list[str] = []
    emails: list[str] = []
    merged: bool = True  # tickets closed by merging them into another


class SurveySettings(Section):
    company: str = "Our team"
    scale: Literal["ces7", "effort5"] = "ces7"
    default_locale: str = "en"
    delivery: Literal["email", "helpdesk"] = "email"
    delay_seconds: int = Field(0, ge=0)
    resurvey_after_reopen: bool = False
    fatigue_days: float = Field(7, ge=0)
    response_days: int = Field(28, ge=1)
    reminder_after_days: float | None = Field(None, gt=0)
    quiet_hours: QuietHours | None = None
    timezone: str = "UTC"  # for quiet hours when the requester's time zone is unknown
    exclude: Exclusions = Exclusions()
    wording: dict[str, Wording] = {}
    # Link scanners: see README, "Answers and link scanners".
    answer_settle_seconds: float = Field(60, ge=0)
    scanner_burst_seconds: float = Field(10, ge=0)
    scanner_grace_seconds: float = Field(20, ge=0)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone such as Europe/Madrid") from None
        return value

    @model_validator(mode="after")
    def _labels_fit_the_scale(self):
        points = SCALE_POINTS[self.scale]
        for locale, words in self.wording.items():
            if words.labels is not None and len(words.labels) != points:
                raise ValueError(f"wording.{locale}.labels has {len(words.labels)} labels; "
                                 f"the {self.scale} scale needs {points}")
        return self


class SignalSettings(Section):
    """How each signal is defined (README, "Signals")."""

    repeat_window_days: float = Field(7, gt=0)
    # Per-ticket reply targets in seconds, by channel (first reply and longest customer wait).
    reply_targets: dict[str, float] = {"chat": 30, "messaging": 300, "email": 86400, "web": 86400,
                                       "social": 3600, "api": 86400, "other": 86400}
    many_customer_messages: int = Field(5, ge=1)  # this many customer messages or more = repeating information


class EffortSettings(Section):
    """The effort index (0–100) is the sum of the weights of the signals present, capped at 100."""

    group_transfer: float = 15  # each transfer between teams
    assignee_transfer: float = 8  # each hand-over between agents
    reopen: float = 20  # each reopen
    repeat_contact: float = 15  # each earlier contact within the window (at most 3 counted)
    not_resolved_first_time: float = 20  # the customer came back within the window after the solve
    channel_switch: float = 15
    slow_first_reply: float = 15
    long_wait: float = 10
    repeated_information: float = 10
    medium_at: float = Field(25, ge=0, le=100)  # index from which a signal-only assessment is medium
    high_at: float = Field(50, ge=0, le=100)  # … and high


class ModelSettings(Section):
    """The learned effort model (README, "The learned effort model"): what a fit learns from, and when it is adopted."""

    use: bool = True  # score assessments with the adopted model (false: the fixed weights, adopted or not)

    window_days: float = Field(180, gt=0)  # the answers a fit learns from: surveys sent in the last N days
    min_answers: int = Field(200, ge=20)
    min_low: int = Field(20, ge=5)
    folds: int = Field(5, ge=2, le=20)
    target_precision: float = Field(0.8, gt=0, lt=1)  # of "high" among held-out answers
    regularization: float = Field(1.0, gt=0)  # scikit-learn's C: smaller is stronger
    refit_days: float = Field(7, ge=0)  # the scheduler queues a refit when the last fit is older (0: never)


class AlertRoute(SecretsModel):
    """One destination of follow-up alerts. Its secret URLs are named by *_env / *_file."""

    # signing_secret: the webhook route's Standard Webhooks secret (whsec_…).
    secret_names = {"url": False, "bot_token": False, "signing_secret": False}
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")
    type: Literal["note", "slack", "teams", "email", "webhook"]
    on: list[Literal["low_answer", "digest"]] = ["low_answer"]
    # Which alerts it gets (empty: all).
    connectors: list[str] = []
    groups: list[str] = []
    brands: list[str] = []
    levels: list[Literal["low", "medium", "high"]] = ["high"]  # for digests: assessment levels listed
    # slack/teams/webhook: the incoming-webhook URL (a secret). slack may use a bot token and a
    # channel instead, so that a changed answer edits the message in place.
    channel: str | None = None
    api_base: str | None = None  # Slack's Web API base (default https://slack.com/api), for proxies
    # email
    to: list[str] = []
    to_assignee: bool = False
    # note
    tag: str | None = None  # e.g. "ces_low"
    reopen: bool = False
    followup_group: str | None = None  # reopen and hand to this group (helpdesk group id)

    @model_validator(mode="after")
    def _complete(self):
        if self.type in ("teams", "webhook") and not self.has_secret("url"):
            raise ValueError(f"a {self.type} route needs url_env (the variable holding its URL) or url_file")
        if self.type == "slack" and not self.has_secret("url") and not (self.has_secret("bot_token") and self.channel):
            raise ValueError("a slack route needs url_env (incoming webhook) or bot_token_env with channel")
        if self.type == "email" and not self.to and not self.to_assignee:
            raise ValueError("an email route needs to = [addresses] and/or to_assignee = true")
        if "digest" in self.on and self.type == "note":
            raise ValueError("a note route cannot carry the daily digest (it is not about one ticket)")
        return self


def unique_names(routes: list[AlertRoute], message: str) -> None:
    names = [r.name for r in routes]
    if len(names) != len(set(names)):
        raise ValueError(message)


class AlertSettings(Section):
    settle_seconds: float = Field(120, ge=0)  # no change for this long (or a comment) before alerting
    low_ces7: int = Field(3, ge=1, le=7)  # answers up to this on ces7 are low
    low_effort5: int = Field(4, ge=1, le=5)  # answers from this on effort5 are low
    digest_time: str = Field("09:00", pattern=_HHMM)
    timezone: str = "UTC"
    # The target time to follow up a case: business days (Monday–Friday in `timezone`) after it opened.
    follow_up_business_days: int = Field(2, ge=1, le=60)
    writeback: bool = True  # every settled answer tagged on its ticket (tag_prefix + score)
    writeback_tag_prefix: str = "ces_"
    routes: list[AlertRoute] = []

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return SurveySettings._zone(value)

    @model_validator(mode="after")
    def _unique_names(self):
        unique_names(self.routes, "every route needs its own name")
        return self


class AdminRoute(AlertRoute):
    """One destination of admin notices (README "Health"): the alert routes' kinds but a note,
    kept apart from the support team's routes."""

    type: Literal["slack", "teams", "email", "webhook"]
    on: list[Literal["low_answer", "digest"]] = []  # not used: an admin route carries health notices only

    @model_validator(mode="after")
    def _addressed(self):
        if self.type == "email" and not self.to:
            raise ValueError("an admin email route needs to = [addresses] (there is no assignee to write to)")
        return self


class AdminSettings(Section):
    routes: list[AdminRoute] = []

    @model_validator(mode="after")
    def _unique_names(self):
        unique_names(self.routes, "every admin route needs its own name")
        return self


class HealthSettings(Section):
    """The health rules' thresholds (README "Health"); short in tests."""

    probe: bool = True  # a light API call per connector between real calls (counts against its rate limit)
    probe_seconds: float = Field(60, gt=0)  # also how often the health is checked and admins notified
    unreachable_minutes: float = Field(15, gt=0)  # a helpdesk unreachable this long is failing
    signature_failures: int = Field(20, ge=1)  # this many bad signatures within signature_minutes...
    signature_minutes: float = Field(10, gt=0)  # ... is a burst: the secret was probably rotated
    backlog_minutes: float = Field(10, gt=0)  # a backlog growing this long is failing
    sweep_seconds: float = Field(60, gt=0)  # no scheduler sweep this long is failing
    smtp_refusals: int = Field(3, ge=1)  # refusals in a row (no mail taken between) that fail SMTP
    sample_seconds: float = Field(10, gt=0)  # how often the scheduler records the backlog


class RetentionSettings(Section):
    """Applied by the scheduler. 0 keeps forever."""

    payload_days: float = Field(30, ge=0)  # raw webhook bodies (the normalized event is kept)
    answer_days: float = Field(0, ge=0)  # then an answer keeps its score only: no comment, no person
    audit_days: float = Field(365, ge=0)  # the audit log (sign-ins, admin actions, API calls)


class IntakeSettings(Section):
    max_body_bytes: int = Field(1024 * 1024, ge=1024)
    retry_after_seconds: int = Field(30, ge=1)
    batch_max: int = Field(500, ge=1)
    writers: int = Field(2, ge=1)  # batches written at once, each on its own database connection
    db_timeout_seconds: float = Field(10.0, gt=0)


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class WorkerSettings(Section):
    pool: Literal["threads", "prefork", "solo"] = "threads"
    concurrency: int = Field(8, ge=1)
    # `ces up` starts this many `ces worker` processes. A worker's Python runs on one core at a time
    # (measured: ~57 ms of CPU per solved ticket), so threads give it concurrency and processes cores.
    processes: int = Field(default_factory=_cores, ge=1)
    lease_seconds: float = Field(120.0, gt=0)
    requeue_after_seconds: float = Field(30.0, gt=0)
    max_attempts: int = Field(8, ge=1)
    retry_base_seconds: float = Field(10.0, gt=0)
    retry_max_seconds: float = Field(3600.0, gt=0)
    visibility_timeout_seconds: int = Field(3600, ge=1)
    sweep_interval_seconds: float = Field(1.0, gt=0)


class ServerSettings(Section):
    """What `ces serve` allows a client before it has proved anything (no token, no signature yet)."""

    header_timeout_seconds: float = Field(10.0, gt=0)  # a request head, from connecting or the last response
    body_timeout_seconds: float = Field(30.0, gt=0)  # a request body, from its head
    max_header_bytes: int = Field(64 * 1024, ge=1024)
    max_form_bytes: int = Field(64 * 1024, ge=1024)  # page forms (/s/, /a/): 5,000 characters fit
    # None: the open-files limit less a reserve for the database, Redis and files, at most 10,000.
    max_connections: int | None = Field(None, ge=1)


class HttpSettings(Section):
    connect_timeout_seconds: float = Field(5.0, gt=0)
    read_timeout_seconds: float = Field(20.0, gt=0)
    retries: int = Field(2, ge=0)
    backoff_base_seconds: float = Field(0.5, ge=0)
    backoff_max_seconds: float = Field(8.0, ge=0)
    # Proxies whose X-Forwarded-For is believed (CIDRs): the client is the right-most address not in
    # these. Empty: the connection's own address. Used by the console's sign-in throttling.
    trusted_proxies: list[str] = []

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        import ipaddress

        for cidr in value:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                raise ValueError(f"{cidr!r} is not an address or network such as 10.0.0.0/8") from None
        return value


class ConnectorSettings(SecretsModel):
    """Keys every connector has; each kind adds its own in its own module."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")
    kind: str
    enabled: bool = True
    dry_run: bool = False
    base_url: str | None = None
    timestamp_tolerance_seconds: int = Field(300, ge=1)
    rate_limit_per_minute: int | None = Field(None, ge=1)  # default: the helpdesk's, see its connector
    survey: dict[str, Any] | None = None  # any [survey] key, for this connector only
    # The helpdesk's API root when base_url is not set: a URL, or one made of the kind's own keys
    # ("https://{subdomain}.zendesk.com").
    default_base_url: ClassVar[str] = ""

    @property
    def api_base(self) -> str:
        return self.base_url or self.default_base_url.format_map(dict(self))

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else check_http_url(value)


class DemoSettings(Section):
    mail_dir: str | None = None


ROLES = ("admin", "lead", "agent")


class OidcSettings(SecretsModel):
    """Single sign-on with OpenID Connect: who may sign in, and as what, comes from their groups."""

    secret_names = {"client_secret": True}
    issuer: str
    client_id: str
    scopes: list[str] = ["openid", "email", "profile"]
    groups_claim: str = "groups"
    roles: dict[str, Literal["admin", "lead", "agent"]] = {}  # group -> role (the highest one applies)
    teams: dict[str, list[str]] = {}  # group -> helpdesk groups a lead or agent works in

    @field_validator("issuer")
    @classmethod
    def _issuer(cls, value: str) -> str:
        return check_http_url(value)

    @model_validator(mode="after")
    def _someone_may_sign_in(self):
        if not self.roles:
            raise ValueError("roles is empty: map at least one group to a role, "
                             'e.g. roles = { "support-leads" = "lead" }')
        return self


class ApiSettings(Section):
    """The read API (`/api/v1/`, README "Read API"), served with the console."""

    rate_per_minute: int = Field(600, ge=1)  # calls per token per minute, shared by every server process


class ConsoleSettings(Section):
    """The console (README, "Console"): sign-in, sessions, and who may see what."""

    enabled: bool = True
    # Where people open the console, if not at public_url (an internal host): sign-in links, the
    # single sign-on callback and whether cookies are Secure follow it.
    url: str | None = None
    session_idle_minutes: float = Field(60, gt=0)
    session_max_hours: float = Field(12, gt=0)
    link_hours: float = Field(24, gt=0)  # one-time sign-in links (invite, reset)
    require_totp_for_admins: bool = False
    signin_failures: int = Field(10, ge=1)  # per account, within signin_window_minutes
    signin_address_failures: int = Field(50, ge=1)  # per client address (an office shares one)
    signin_window_minutes: float = Field(15, gt=0)
    # Argon2 runs on these threads; more sign-ins waiting than hash_queue get "try again" (503),
    # so that a flood of sign-ins never takes the cores from intake.
    hash_workers: int = Field(1, ge=1)
    hash_queue: int = Field(16, ge=0)
    # Teams and agents: nobody is ranked on fewer answers than this (shown as "too few answers").
    min_answers: int = Field(10, ge=1)
    # Connectors made in the console (README, "Connectors in the console"): plain http:// and
    # loopback helpdesk addresses only when this allows them (self-hosted helpdesks, tests).
    allow_http_helpdesks: bool = False
    webhook_secret_grace_hours: float = Field(24, ge=0)  # a rotated webhook secret is still accepted this long
    oidc: OidcSettings | None = None

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else check_http_url(value)
