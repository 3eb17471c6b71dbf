"""What is stored. The rows are the truth; Celery messages only carry their ids."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from ces.worker.db.types import UTCDateTime

BigId = BigInteger().with_variant(Integer, "sqlite")
# Python None is SQL NULL (not the JSON value null), so that "IS NULL" filters mean what they say.
Json = JSON(none_as_null=True)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: Json}


class EventState:
    RECEIVED = "received"  # stored, waiting for a worker
    PROCESSING = "processing"  # claimed by a worker until lease_until
    DONE = "done"
    IGNORED = "ignored"  # nothing to do (irrelevant event, our own change)
    FAILED = "failed"  # gave up after max attempts; `ces events replay ID` retries it

    PENDING = (RECEIVED, PROCESSING)


class WebhookEvent(Base):
    """One event from one webhook delivery: the outbox that nothing accepted is lost from."""

    __tablename__ = "webhook_events"
    __table_args__ = (
        UniqueConstraint("connector_id", "delivery_id", name="uq_webhook_events_delivery"),
        Index("uq_webhook_events_signed", "connector_id", "signed_key", unique=True,
              postgresql_where=text("signed_key IS NOT NULL"), sqlite_where=text("signed_key IS NOT NULL")),
        Index("ix_webhook_events_pending", "next_try_at",
              postgresql_where=text("state IN ('received', 'processing')"),
              sqlite_where=text("state IN ('received', 'processing')")),
        Index("ix_webhook_events_ticket", "connector_id", "ticket_id"),
        Index("ix_webhook_events_received_at", "received_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    connector_id: Mapped[str] = mapped_column(String(64))
    delivery_id: Mapped[str] = mapped_column(String(255))
    # The hash of the request's signed parts, for kinds whose own delivery id travels unsigned
    # (Zendesk's invocation id): unique too, so a replay under a new id is a duplicate (intake.py).
    signed_key: Mapped[str | None] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(16))
    ticket_id: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str | None] = mapped_column(String(16))
    previous_status: Mapped[str | None] = mapped_column(String(16))
    actor_id: Mapped[str | None] = mapped_column(String(64))
    summary: Mapped[str] = mapped_column(String(200), default="")
    occurred_at: Mapped[datetime]
    received_at: Mapped[datetime]
    payload: Mapped[dict[str, Any] | None]
    # Normalized, kept after the raw payload's retention: history entries the webhook told, and
    # the ticket as it described it (connectors without an API).
    entries: Mapped[list[Any] | None] = mapped_column(Json)
    ticket: Mapped[dict[str, Any] | None]
    state: Mapped[str] = mapped_column(String(16), default=EventState.RECEIVED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_until: Mapped[datetime | None]
    # When the scheduler should (re)enqueue it if no worker has taken it by then: the safety net
    # for a push lost while Redis was down, and the time of the next try after a failure.
    next_try_at: Mapped[datetime | None]
    processed_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(300))
    error: Mapped[str | None] = mapped_column(Text)


class Ticket(Base):
    """What we know of a helpdesk ticket's lifecycle: its solves and reopens."""

    __tablename__ = "tickets"
    __table_args__ = (
        UniqueConstraint("connector_id", "external_id", name="uq_tickets_external"),
        Index("ix_tickets_requester", "requester_hash", "opened_at"),
        Index("ix_tickets_last_solved", "last_solved_at", "id"),  # index-only: tickets solved in a range
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    connector_id: Mapped[str] = mapped_column(String(64))
    external_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str | None] = mapped_column(String(16))
    status_at: Mapped[datetime | None]  # when the last applied status change happened
    solve_count: Mapped[int] = mapped_column(Integer, default=0)
    open_solve: Mapped[int | None] = mapped_column(Integer)  # number of the solve not yet reopened
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    # Known once the signals are collected: who asked (keyed hash), how and when.
    requester_hash: Mapped[str | None] = mapped_column(String(64))
    channel: Mapped[str | None] = mapped_column(String(32))
    opened_at: Mapped[datetime | None]
    last_solved_at: Mapped[datetime | None]
    group_name: Mapped[str | None] = mapped_column(String(200))  # the team, for digests and reports
    assignee: Mapped[str | None] = mapped_column(String(200))
    # The agent's e-mail at the last collection: how an agent sees a ticket that had no survey.
    assignee_email: Mapped[str | None] = mapped_column(String(320))
    brand: Mapped[str | None] = mapped_column(String(200))
    ticket_url: Mapped[str | None] = mapped_column(String(500))


class JobKind:
    COLLECT = "collect"  # read the history, compute signals, assess
    RECHECK = "recheck"  # solve + repeat window: look for contacts after the solve (then collect)
    ASSESS = "assess"  # a new fact (an answer): assess again from the stored signals
    ALERT = "alert"  # an answer settled or changed: alert, follow up, write back
    REFIT = "refit"  # no ticket: fit the learned effort model again (model.refit_days)


class Job(Base):
    """Work due on a ticket at a time: the row is the truth, the Celery message carries its id.
    At most one job of a kind per ticket; scheduling it again moves its time and bumps `version`,
    so a run that started before the new fact does not delete it. A job of the installation (the
    model's refit) has no ticket, and at most one of its kind is kept (uq_jobs_kind_alone)."""

    __tablename__ = "jobs"
    __table_args__ = (
        UniqueConstraint("kind", "ticket_pk", name="uq_jobs_kind_ticket"),
        Index("uq_jobs_kind_alone", "kind", unique=True, postgresql_where=text("ticket_pk IS NULL"),
              sqlite_where=text("ticket_pk IS NULL")),
        Index("ix_jobs_due", "due_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    ticket_pk: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    due_at: Mapped[datetime]
    version: Mapped[int] = mapped_column(Integer, default=1)
    state: Mapped[str] = mapped_column(String(16), default="due")  # due, running (leased)
    lease_until: Mapped[datetime | None]
    next_try_at: Mapped[datetime | None]  # (re)enqueue time, as on webhook_events
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(500))


class TicketHistoryRecord(Base):
    """The normalized history as last collected: signals can be recomputed from it alone."""

    __tablename__ = "ticket_histories"

    ticket_pk: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True)
    fetched_at: Mapped[datetime]
    history: Mapped[dict[str, Any]]  # TicketHistory as JSON (ticket, entries, counters, missing)
    contacts: Mapped[list[Any] | None] = mapped_column(Json)  # the requester's other tickets


class TicketSignalsRecord(Base):
    """The signals of a ticket, one column each for reports, and the whole set as JSON."""

    __tablename__ = "ticket_signals"
    __table_args__ = (
        # `ces report --by signal` reads its buckets from here, not from the table (with its JSON).
        Index("ix_ticket_signals_buckets", "ticket_pk", "group_transfers", "assignee_transfers", "reopens",
              "repeat_contacts", "repeat_after", "channel_switch", "reply_breach"),
    )

    ticket_pk: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True)
    computed_at: Mapped[datetime]
    group_transfers: Mapped[int] = mapped_column(Integer, default=0)
    assignee_transfers: Mapped[int] = mapped_column(Integer, default=0)
    reopens: Mapped[int] = mapped_column(Integer, default=0)
    repeat_contacts: Mapped[int] = mapped_column(Integer, default=0)
    repeat_after: Mapped[int] = mapped_column(Integer, default=0)
    channel_switch: Mapped[bool] = mapped_column(Boolean, default=False)
    reply_breach: Mapped[bool] = mapped_column(Boolean, default=False)
    customer_messages: Mapped[int] = mapped_column(Integer, default=0)
    first_reply_seconds: Mapped[float | None] = mapped_column(Float)
    longest_wait_seconds: Mapped[float | None] = mapped_column(Float)
    resolution_seconds: Mapped[float | None] = mapped_column(Float)
    partial: Mapped[bool] = mapped_column(Boolean, default=False)
    data: Mapped[dict[str, Any]]


class AssessmentRecord(Base):
    """The latest effort assessment of a ticket."""

    __tablename__ = "assessments"
    __table_args__ = (
        Index("ix_assessments_level", "level", "assessed_at"),
        Index("ix_assessments_level_ticket", "level", "ticket_pk"),  # the high-effort tickets, index-only
    )

    ticket_pk: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True)
    survey_id: Mapped[int | None] = mapped_column(ForeignKey("surveys.id", ondelete="SET NULL"))
    level: Mapped[str] = mapped_column(String(8))
    effort_index: Mapped[int] = mapped_column(Integer)
    basis: Mapped[str] = mapped_column(String(8))  # survey or signals
    partial: Mapped[bool] = mapped_column(Boolean, default=False)
    reasons: Mapped[list[Any]] = mapped_column(Json)  # [{"code", "text"}]
    reason_codes: Mapped[str] = mapped_column(String(300), default="")  # "group_transfers,reopened"
    assessed_at: Mapped[datetime]
    model_id: Mapped[int | None] = mapped_column(BigId)  # the learned model that scored it (effort_models.id)


class EffortModelRecord(Base):
    """Every fit of the learned effort model, adopted or not, with what it learned and how it scored
    against the fixed weights; the newest adopted one scores the silent tickets (worker/model)."""

    __tablename__ = "effort_models"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    fitted_at: Mapped[datetime]
    since: Mapped[datetime]  # the window of surveys sent that it learned from
    until: Mapped[datetime]
    answers: Mapped[int] = mapped_column(Integer)
    low: Mapped[int] = mapped_column(Integer)
    adopted: Mapped[bool] = mapped_column(Boolean, default=False)
    why: Mapped[str] = mapped_column(String(500))
    model: Mapped[dict[str, Any] | None] = mapped_column(Json)  # features, coefficients, intercept, scaling, thresholds
    metrics: Mapped[dict[str, Any] | None] = mapped_column(Json)  # held-out: learned and fixed, precision, recall
    rules: Mapped[dict[str, Any]]  # the [model] settings it was fitted under


class Solve(Base):
    """One resolution of a ticket: (connector, ticket, number). At most one survey each."""

    __tablename__ = "solves"
    __table_args__ = (UniqueConstraint("ticket_pk", "number", name="uq_solves_number"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    ticket_pk: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    solved_at: Mapped[datetime]
    event_id: Mapped[int | None] = mapped_column(ForeignKey("webhook_events.id", ondelete="SET NULL"))
    reopened_at: Mapped[datetime | None]


class SurveyState:
    PENDING = "pending"  # waiting for send_after
    PREPARING = "preparing"  # claimed by a worker until lease_until; nothing sent yet
    SENDING = "sending"  # handed to the mail server; a crash here leaves it uncertain
    SENT = "sent"
    UNCERTAIN = "uncertain"  # may or may not have been delivered: never resent automatically
    FAILED = "failed"
    CANCELLED = "cancelled"  # the ticket was reopened before the send
    SKIPPED = "skipped"  # policy said no (reason says why)
    TEST = "test"  # sent by `ces surveys test-send`: answerable, never in a report

    OPEN = (PENDING, PREPARING, SENDING)
    PROBLEMS = (FAILED, UNCERTAIN)
    # May have reached the customer: `sending` too, as the mail can arrive before our commit.
    REACHED = (SENDING, SENT, UNCERTAIN)


class Survey(Base):
    __tablename__ = "surveys"
    __table_args__ = (
        Index("ix_surveys_due", "next_try_at",
              postgresql_where=text("state IN ('pending', 'preparing', 'sending')"),
              sqlite_where=text("state IN ('pending', 'preparing', 'sending')")),
        Index("ix_surveys_sent_at", "sent_at"),
        Index("ix_surveys_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # None only for `ces surveys test-send` (state "test": answerable, never reported).
    solve_id: Mapped[int | None] = mapped_column(ForeignKey("solves.id", ondelete="CASCADE"), unique=True)
    connector_id: Mapped[str] = mapped_column(String(64))
    ticket_external_id: Mapped[str] = mapped_column(String(64))
    token: Mapped[str] = mapped_column(String(64), unique=True)
    state: Mapped[str] = mapped_column(String(16), default=SurveyState.PENDING)
    reason: Mapped[str | None] = mapped_column(String(500))
    scale: Mapped[str] = mapped_column(String(8))
    locale: Mapped[str | None] = mapped_column(String(16))
    delivery: Mapped[str] = mapped_column(String(16), default="email")
    email_hash: Mapped[str | None] = mapped_column(String(64), index=True)  # keyed hash of the normalized e-mail
    reminder_state: Mapped[str | None] = mapped_column(String(16))  # None, sending, sent, uncertain, failed
    reminder_at: Mapped[datetime | None]
    # Snapshot at send time, so a later reassignment never orphans the score.
    email: Mapped[str | None] = mapped_column(String(320))
    name: Mapped[str | None] = mapped_column(String(200))
    assignee: Mapped[str | None] = mapped_column(String(200))
    assignee_id: Mapped[str | None] = mapped_column(String(64))  # the agent's id at the helpdesk
    assignee_email: Mapped[str | None] = mapped_column(String(320))
    group_name: Mapped[str | None] = mapped_column(String(200))
    brand: Mapped[str | None] = mapped_column(String(200))
    channel: Mapped[str | None] = mapped_column(String(32))
    ticket_url: Mapped[str | None] = mapped_column(String(500))
    send_after: Mapped[datetime]  # not before
    lease_until: Mapped[datetime | None]
    next_try_at: Mapped[datetime | None]  # as on webhook_events
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Attempts made before an admin's `ces surveys resend`: a resend gets a whole retry budget again.
    attempts_before_resend: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    message_id: Mapped[str | None] = mapped_column(String(300))


class SurveyAttempt(Base):
    """Every try at sending a survey, whatever came of it."""

    __tablename__ = "survey_attempts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    outcome: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str | None] = mapped_column(String(500))


class AnswerState:
    PROVISIONAL = "provisional"  # a click on a mail link, not yet settled (link scanners click too)
    CONFIRMED = "confirmed"  # a person: a form, the page's script on interaction, or settled
    DISCARDED = "discarded"  # the clicks looked like a link scanner


class Answer(Base):
    __tablename__ = "answers"
    __table_args__ = (
        Index("ix_answers_provisional", "updated_at", postgresql_where=text("state = 'provisional'"),
              sqlite_where=text("state = 'provisional'")),
        # Comment search by substring in any script (migration 0106; PostgreSQL only).
        Index("ix_answers_comment_trgm", "comment", postgresql_using="gin",
              postgresql_ops={"comment": "gin_trgm_ops"}).ddl_if(dialect="postgresql"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"), unique=True)
    scale: Mapped[str] = mapped_column(String(8))
    score: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    changes: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[str] = mapped_column(String(16), default=AnswerState.CONFIRMED)
    confirmed_at: Mapped[datetime | None]
    via: Mapped[str | None] = mapped_column(String(80))  # click, form, script, settled, "scanner: why"
    clicks: Mapped[list[Any] | None] = mapped_column(Json)  # [[iso time, score], …] of unconfirmed clicks


class AnswerChange:
    ANSWERED = "answered"  # the answer became a person's (the first confirmed score)
    SCORE = "score"  # the score changed (a comment written with it is on the same row)
    COMMENT = "comment"  # a new comment on the same score


class AnswerHistory(Base):
    """Each confirmed answer and each later change, as the customer made it: a comment is kept on the
    row of the score it was written with, so that it is never shown beside another score. `Answer`
    stays the current summary that reports read (its comment is the current score's, or none)."""

    __tablename__ = "answer_history"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # AnswerChange
    scale: Mapped[str] = mapped_column(String(8))
    score: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime]
    how: Mapped[str] = mapped_column(String(16))  # click, form, script, settled (as Answer.via)


class OptOut(Base):
    """Customers who asked never to be surveyed again, by keyed hash: it survives `ces erase`."""

    __tablename__ = "opt_outs"

    email_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime]


class Recipient(Base):
    """When a customer was last surveyed (any connector): the fatigue rule, reserved atomically."""

    __tablename__ = "recipients"

    email_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_survey_id: Mapped[int | None] = mapped_column(BigId)
    last_sent_at: Mapped[datetime]


class AppSecret(Base):
    """Keys this installation generates for itself (e.g. the key of the e-mail hashes)."""

    __tablename__ = "app_secrets"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))


class FollowUpState:
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    FOLLOWED_UP = "followed_up"


class FollowUp(Base):
    """A hard interaction someone should follow up: one per surveyed answer, or one per ticket
    flagged by its signals alone. Its state goes open → acknowledged → followed up."""

    __tablename__ = "follow_ups"
    __table_args__ = (UniqueConstraint("key", name="uq_follow_ups_key"), Index("ix_follow_ups_created", "created_at"),
                      Index("ix_follow_ups_state_created", "state", "created_at"))  # the console's queue

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(100))  # "survey:<id>" or "ticket:<pk>"
    ticket_pk: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    survey_id: Mapped[int | None] = mapped_column(ForeignKey("surveys.id", ondelete="SET NULL"))
    connector_id: Mapped[str] = mapped_column(String(64))
    team: Mapped[str | None] = mapped_column(String(200))
    agent: Mapped[str | None] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(16), default=FollowUpState.OPEN)
    created_at: Mapped[datetime]
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[str | None] = mapped_column(String(320))
    followed_up_at: Mapped[datetime | None]
    followed_up_by: Mapped[str | None] = mapped_column(String(320))
    followed_up_note: Mapped[str | None] = mapped_column(Text)  # what was done, in the person's words
    # Who should follow it up: a lead assigns a console user (staff, never a customer).
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    assigned_at: Mapped[datetime | None]
    assigned_by: Mapped[str | None] = mapped_column(String(320))


class AlertState:
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    UNCERTAIN = "uncertain"  # the remote side may have it: never resent automatically
    FAILED = "failed"
    SKIPPED = "skipped"  # the route cannot do it here (reason says why)

    PROBLEMS = (FAILED, UNCERTAIN)


class Alert(Base):
    """One delivery to one route (and recipient): at most one per dedupe key, every attempt counted."""

    __tablename__ = "alerts"
    __table_args__ = (
        UniqueConstraint("dedupe_key", name="uq_alerts_dedupe"),
        Index("ix_alerts_due", "next_try_at", postgresql_where=text("state IN ('pending', 'sending')"),
              sqlite_where=text("state IN ('pending', 'sending')")),
        Index("ix_alerts_created", "created_at"),
        Index("ix_alerts_survey", "survey_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(300))
    survey_id: Mapped[int | None] = mapped_column(BigId)  # alerts, updates, write-backs; a digest has none
    kind: Mapped[str] = mapped_column(String(16))  # alert, update, digest, writeback
    route: Mapped[str] = mapped_column(String(64))
    route_type: Mapped[str] = mapped_column(String(16))
    recipient: Mapped[str] = mapped_column(String(320))  # an address, or the route's name: never a URL
    follow_up_id: Mapped[int | None] = mapped_column(ForeignKey("follow_ups.id", ondelete="CASCADE"))
    content: Mapped[dict[str, Any]]  # what to say: built when the alert is created
    state: Mapped[str] = mapped_column(String(16), default=AlertState.PENDING)
    reason: Mapped[str | None] = mapped_column(String(500))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    attempts_before_resend: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # as on surveys
    lease_until: Mapped[datetime | None]
    next_try_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    remote_ref: Mapped[str | None] = mapped_column(String(300))  # e.g. Slack's message ts, for edits


class AlertLink(Base):
    """A recipient's own link to acknowledge or mark followed up (GET shows, only POST changes)."""

    __tablename__ = "alert_links"

    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    follow_up_id: Mapped[int] = mapped_column(ForeignKey("follow_ups.id", ondelete="CASCADE"), index=True)
    recipient: Mapped[str] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(16))  # acknowledge or followed_up
    created_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


# --- the console's people (worker/console/): staff, never customers; `ces erase` has nothing here ---
class Role:
    ADMIN = "admin"  # everything
    LEAD = "lead"  # the teams given (all teams when none); works follow-ups
    AGENT = "agent"  # their own tickets (by their e-mail in the survey snapshot)

    ALL = (ADMIN, LEAD, AGENT)


class User(Base):
    """A person who signs in to the console: a password (set through a one-time link) or single sign-on."""

    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("email", name="uq_users_email"),
                      UniqueConstraint("oidc_subject", name="uq_users_oidc_subject"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    email: Mapped[str] = mapped_column(String(320))  # lower-cased: also how an agent is matched to tickets
    name: Mapped[str | None] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    teams: Mapped[list[Any]] = mapped_column(Json, default=list)  # helpdesk group names; empty: all (leads)
    password_hash: Mapped[str | None] = mapped_column(String(200))  # Argon2id; None until set through a link
    totp_secret: Mapped[str | None] = mapped_column(String(64))  # set once the person confirmed a code
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)  # a code is good once (replays refused)
    oidc_subject: Mapped[str | None] = mapped_column(String(255))  # `sub` at the single sign-on provider
    created_at: Mapped[datetime]
    disabled_at: Mapped[datetime | None]
    password_changed_at: Mapped[datetime | None]


class ConsoleSession(Base):
    """A signed-in browser. The cookie holds a random value; only its SHA-256 is stored here."""

    __tablename__ = "console_sessions"
    __table_args__ = (Index("ix_console_sessions_expires", "expires_at"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256 (hex) of the cookie's value
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    method: Mapped[str] = mapped_column(String(16))  # password or oidc
    second_factor_done: Mapped[bool] = mapped_column(Boolean, default=False)
    totp_pending: Mapped[str | None] = mapped_column(String(64))  # a secret being enrolled, not yet confirmed
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime]  # the absolute end; idle expiry counts from last_seen_at


class SignInLink(Base):
    """A one-time link where a person sets their password: `ces users add` (invite) or `reset`."""

    __tablename__ = "sign_in_links"
    __table_args__ = (Index("ix_sign_in_links_expires", "expires_at"),)

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256 (hex) of the link's token
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(16))  # invite or reset
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class DailyRollup(Base):
    """The report numbers of one UTC day for one combination of dimensions (worker/rollups.py).
    Survey counts are of the surveys sent that day; ticket counts of the assessed tickets last
    solved that day. Always recomputed from the source rows for a whole day, never incremented."""

    __tablename__ = "daily_rollups"
    __table_args__ = (Index("ix_daily_rollups_day", "day"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    connector_id: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str | None] = mapped_column(String(32))
    group_name: Mapped[str | None] = mapped_column(String(200))
    agent: Mapped[str | None] = mapped_column(String(200))
    agent_email: Mapped[str | None] = mapped_column(String(320))
    language: Mapped[str | None] = mapped_column(String(16))
    scale: Mapped[str | None] = mapped_column(String(8))
    drivers: Mapped[int] = mapped_column(Integer, default=0)  # bitmask of rollups.DRIVERS
    surveys_sent: Mapped[int] = mapped_column(Integer, default=0)
    answers: Mapped[int] = mapped_column(Integer, default=0)
    score_sum: Mapped[int] = mapped_column(Integer, default=0)
    score_1: Mapped[int] = mapped_column(Integer, default=0)
    score_2: Mapped[int] = mapped_column(Integer, default=0)
    score_3: Mapped[int] = mapped_column(Integer, default=0)
    score_4: Mapped[int] = mapped_column(Integer, default=0)
    score_5: Mapped[int] = mapped_column(Integer, default=0)
    score_6: Mapped[int] = mapped_column(Integer, default=0)
    score_7: Mapped[int] = mapped_column(Integer, default=0)
    tickets_assessed: Mapped[int] = mapped_column(Integer, default=0)
    high_answered: Mapped[int] = mapped_column(Integer, default=0)  # high effort, assessed with an answer
    high_signals: Mapped[int] = mapped_column(Integer, default=0)  # high effort from the signals alone


class RollupDirty(Base):
    """A UTC day whose rollups must be recomputed: marked in the transaction that changes a source row."""

    __tablename__ = "rollup_dirty"
    __table_args__ = (Index("ix_rollup_dirty_day", "day"),)

    # A row per mark, not per day: a plain INSERT never waits on another transaction's mark of the
    # same day (with the day unique, two writers marking two days in opposite orders deadlocked).
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    day: Mapped[date] = mapped_column(Date)


class ApiToken(Base):
    """A key to the read API (`/api/v1/`), made by an admin for a person: it sees what that person
    sees, within its scopes. Only the SHA-256 of the secret is stored; it is shown once."""

    __tablename__ = "api_tokens"
    __table_args__ = (UniqueConstraint("token_hash", name="uq_api_tokens_hash"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64))
    prefix: Mapped[str | None] = mapped_column(String(16))  # the secret's first characters, to tell tokens apart
    created_by: Mapped[str | None] = mapped_column(String(80))  # the audit actor who made it: "user:5", "cli"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    scopes: Mapped[list[Any]] = mapped_column(Json)  # e.g. ["read:answers", "read:reports"]
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class AuditEntry(Base):
    """Who did what, when, from where: sign-ins, admin actions, API calls. People and objects by
    id only, never customer data (so `ces erase` has nothing to do here); `retention.audit_days`."""

    __tablename__ = "audit_log"
    # The admin pages' filters and each person's last sign-in read these, not the whole log
    # (one row per API call: a million rows is a busy year).
    __table_args__ = (Index("ix_audit_log_at", "at"), Index("ix_audit_log_action", "action", "actor", "at"),
                      Index("ix_audit_log_actor", "actor", "id"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(80))  # "user:5", "token:3", "cli", "unknown"
    action: Mapped[str] = mapped_column(String(60))  # "sign_in", "sign_in_failed", "token.create", "api.answers"…
    target: Mapped[str | None] = mapped_column(String(80))  # "user:7", "token:3"
    address: Mapped[str | None] = mapped_column(String(64))  # the client's address, for what came over HTTP
    detail: Mapped[dict[str, Any] | None] = mapped_column(Json)  # small, never customer text


class StoredConnector(Base):
    """A connector an admin made in the console (TOML connectors are not here). `settings` is what
    its kind's settings model takes, without any secret; the secrets are one Fernet token of a JSON
    object (worker/secretbox.py). `version` grows with every change: every process compares
    max(version) to what it loaded (worker/live_connectors.py)."""

    __tablename__ = "connectors"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    settings: Mapped[dict[str, Any]]
    secrets: Mapped[str] = mapped_column(Text)
    # Which secrets it has (names only): what its settings mean still validates when no key opens them.
    secret_names: Mapped[list[Any]] = mapped_column(Json)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    # A rotated webhook secret: the previous one (Fernet token) is accepted until grace_until.
    previous_webhook_secret: Mapped[str | None] = mapped_column(Text)
    grace_until: Mapped[datetime | None]
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(80))  # "user:5", "cli"
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(80))
    version: Mapped[int] = mapped_column(BigId, default=1)
    # Deleted connectors stay as a row (deleted_at set, version bumped) so that every process sees
    # the removal through the same max(version); the id stays taken until the row is erased.
    deleted_at: Mapped[datetime | None]
