"""`ces surveys resend`, `ces alerts resend` and `ces events replay`: an admin sends again what failed (once the cause is
fixed: the mail server's password, the helpdesk token), or what is uncertain once they have made sure
it did not arrive. Nothing is ever resent by itself; this is the one way back.

Only a failed or uncertain row moves: back to pending, due now, the reason saying who asked. The
send then checks everything again (the ticket reopened, the customer unsubscribed or surveyed since,
a later answer's write-back), so a resend never does what a first send would not."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select, update

from ces.worker import audit
from ces.worker.alerts.send import writeback_siblings
from ces.worker.alerts.trigger import SEND_ALERT
from ces.worker.db.models import Alert, AlertState, Answer, EventState, Solve, Survey, SurveyState, WebhookEvent
from ces.worker.intake import PROCESS_EVENT
from ces.worker.runtime import Runtime
from ces.worker.surveys.create import SEND_SURVEY


class NotResent(Exception):
    """Why this one is not sent again: one line for the admin."""


def _why_not(s, row, noun: str, states, uncertain: bool) -> str | None:
    if row.state not in states.PROBLEMS:
        return f"{noun} {row.id} is {row.state}: only failed or uncertain ones are sent again"
    if row.state == states.UNCERTAIN and not uncertain:
        where = "the mail server's log" if noun == "survey" else f"route {row.route!r}"
        return (f"{noun} {row.id} is uncertain: it may have arrived; check {where}, then resend it with "
                "--uncertain")
    if noun == "survey":
        if s.scalar(select(Answer.id).where(Answer.survey_id == row.id).limit(1)):
            return f"survey {row.id} was answered: its mail arrived"
        solve = s.get(Solve, row.solve_id)
        if solve is not None and solve.reopened_at is not None:
            return (f"survey {row.id} is for solve #{solve.number} of ticket {row.ticket_external_id}, which was "
                    "reopened since: a later solve has its own survey")
    elif row.kind == "writeback" and writeback_siblings(s, row, Alert.id > row.id):
        return f"alert {row.id} is a write-back that a later answer's write-back replaced"
    elif row.kind in ("alert", "update") and s.scalar(select(Alert.id).where(
            Alert.kind.in_(["alert", "update"]), Alert.follow_up_id == row.follow_up_id, Alert.route == row.route,
            Alert.recipient == row.recipient, Alert.id > row.id).limit(1)):
        return f"alert {row.id} was followed by a newer message on route {row.route!r}: it would tell an older answer"
    return None


def resend(rt: Runtime, noun: str, row_id: int, *, uncertain: bool = False, actor: str = audit.CLI,
           origin: str | None = None) -> bool:
    """Make a failed (or, with `uncertain`, an uncertain) survey or alert due now; raises NotResent.
    Returns whether it was queued at once (else the scheduler queues it at its next sweep).
    Audited by id and former state only: a reason may quote a customer's address."""
    model, states, task = {"survey": (Survey, SurveyState, SEND_SURVEY), "alert": (Alert, AlertState, SEND_ALERT)}[noun]
    now = rt.now()
    with rt.transaction() as s:
        row = s.get(model, row_id)
        if row is None:
            raise NotResent(f"no {noun} {row_id}")
        why = _why_not(s, row, noun, states, uncertain)
        if why:
            raise NotResent(why)
        was = row.state  # the update below refreshes the row
        reason = f"sent again by an admin (was {was}: {row.reason or 'no reason recorded'})"[:500]
        values = dict(state=states.PENDING, reason=reason, next_try_at=now, lease_until=None,
                      attempts_before_resend=row.attempts)  # a whole retry budget again
        if model is Survey:
            values["send_after"] = min(row.send_after, now)
        # Conditional, like every state change: a concurrent resend moves it once.
        moved = s.execute(update(model).where(model.id == row_id, model.state == row.state).values(**values)).rowcount
        if not moved:
            raise NotResent(f"{noun} {row_id} changed meanwhile; look again")
        audit.record(s, now, actor, f"{noun}.resend", f"{noun}:{row_id}", address=origin, was=was)
    return rt.enqueue(task, row_id)


@dataclass
class Outcome:
    """What a resend of many did: the ids queued (and whether at once), one line per refusal."""

    queued: list[tuple[int, bool]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)

    @property
    def ids(self) -> list[int]:
        return [row_id for row_id, _ in self.queued]

    @property
    def broker_down(self) -> bool:
        """Some were not queued at once: the scheduler's next sweep queues them."""
        return not all(at_once for _, at_once in self.queued)


def _each(ids: list[int], attempt) -> Outcome:
    outcome = Outcome()
    for row_id in dict.fromkeys(ids):  # each id once, in the order given
        try:
            outcome.queued.append((row_id, attempt(row_id)))
        except NotResent as exc:
            outcome.refused.append(str(exc))
    return outcome


def resend_many(rt: Runtime, noun: str, ids: list[int], *, uncertain: bool = False, actor: str = audit.CLI,
                origin: str | None = None) -> Outcome:
    """`ces surveys|alerts resend` and the console's queues: each id on its own (one refusal stops
    nothing else)."""
    return _each(ids, lambda row_id: resend(rt, noun, row_id, uncertain=uncertain, actor=actor, origin=origin))


def replay_many(rt: Runtime, ids: list[int], *, actor: str = audit.CLI, origin: str | None = None) -> Outcome:
    """The console's parked events, replayed as `ces events replay` does, each on its own."""
    return _each(ids, lambda event_id: replay_event(rt, event_id, actor=actor, origin=origin))


def replay_event(rt: Runtime, event_id: int, *, actor: str = audit.CLI, origin: str | None = None) -> bool:
    """`ces events replay`: a failed (or done) event is processed again; duplicates of its effects
    are still prevented. False if the broker is down (the scheduler enqueues it)."""
    with rt.transaction() as s:
        event = s.get(WebhookEvent, event_id)
        if event is None:
            raise NotResent(f"no event {event_id}")
        if event.state in EventState.PENDING:
            raise NotResent(f"event {event_id} is {event.state} already")
        if event.state == EventState.IGNORED:
            raise NotResent(f"event {event_id} was ignored ({event.outcome}); nothing to replay")
        audit.record(s, rt.now(), actor, "event.replay", f"event:{event_id}", address=origin, was=event.state)
        event.state, event.attempts, event.error, event.next_try_at = EventState.RECEIVED, 0, None, rt.now()
    return rt.enqueue(PROCESS_EVENT, event_id)
