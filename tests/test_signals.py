"""Each signal's definition on realistic histories (Zendesk audits and metrics, as the API returns
them), and the effort assessment built on them."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import responses
from hypothesis import given, settings
from hypothesis import strategies as st

from ces.config.models import EffortSettings, HttpSettings, SignalSettings
from ces.connectors.http import HttpClient
from ces.connectors.models import Actor, Channel, EntryKind, HistoryEntry, Person, Status, Ticket, TicketHistory
from ces.connectors.zendesk import ZendeskConnector, ZendeskSettings
from ces.worker.signals.definitions import Contact, compute_signals
from ces.worker.signals.effort import assess, duration
from tests.support import fixture_json

BASE = "https://acme.zendesk.com"
T0 = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)
SOLVED = datetime(2026, 11, 22, 11, 30, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def zendesk_history() -> TicketHistory:
    """The history of ticket 5158 as the Zendesk connector reads it from the API fixtures."""
    import os

    os.environ.setdefault("SIG_ZD_TOKEN", "t")
    os.environ.setdefault("SIG_ZD_SECRET", "s")
    conn = ZendeskConnector(ZendeskSettings(id="zendesk-main", kind="zendesk", subdomain="acme", email="a@acme.test",
                                            api_token_env="SIG_ZD_TOKEN", webhook_secret_env="SIG_ZD_SECRET",
                                            api_user_id="8447388090400"),
                            http=HttpClient(HttpSettings(retries=0)), public_url="https://s.example")
    with responses.RequestsMock() as mock:
        mock.get(f"{BASE}/api/v2/tickets/5158.json", json=fixture_json("zendesk", "api_ticket_show.json"))
        mock.get(f"{BASE}/api/v2/tickets/5158/metrics.json", json=fixture_json("zendesk", "api_ticket_metrics.json"))
        mock.get(f"{BASE}/api/v2/tickets/5158/audits.json", json=fixture_json("zendesk", "api_ticket_audits.json"))
        return conn.fetch_history("5158")


def signals(history, contacts=(), solved=SOLVED, **kw):
    return compute_signals(history, list(contacts), connector_id="zendesk-main", solved_at=solved,
                           settings=SignalSettings(**kw))


def test_transfers_from_the_audits(zendesk_history):
    s = signals(zendesk_history)
    assert (s.group_transfers, s.assignee_transfers, s.group_path) == (1, 1, ["Billing", "Tier 2"])


def test_messages_and_reply_times_from_the_audits(zendesk_history):
    s = signals(zendesk_history)
    assert s.customer_messages == 2  # the first message and "Any news? I explained this already."
    assert s.first_reply_seconds == (datetime(2026, 11, 20, 9, 40, tzinfo=timezone.utc)
                                     - datetime(2026, 11, 20, 9, 12, 7, tzinfo=timezone.utc)).total_seconds()
    assert s.longest_wait_seconds == 25.5 * 3600  # "Any news?" on the 21st at 10:00, answered on the 22nd at 11:30
    assert s.reply_target_seconds == 86400 and not s.slow_first_reply and s.long_wait
    assert s.resolution_seconds == (SOLVED - datetime(2026, 11, 20, 9, 12, 7, tzinfo=timezone.utc)).total_seconds()


def test_a_customer_who_wrote_by_mail_then_chat_switched_channels(zendesk_history):
    s = signals(zendesk_history)
    assert s.channels == ["email", "chat"] and s.channel_switch


def test_our_own_note_never_counts(zendesk_history):
    assert not [e for e in zendesk_history.entries if e.actor == Actor.US and e.kind == EntryKind.MESSAGE]
    assert signals(zendesk_history).customer_messages == 2


def test_repeat_contacts_before_and_after_the_solve(zendesk_history):
    contacts = [Contact(connector="zendesk-main", id="5140", created_at=datetime(2026, 11, 17, 18, 2, tzinfo=timezone.utc),
                        channel="chat"),
                Contact(connector="zendesk-main", id="4801", created_at=datetime(2026, 9, 1, tzinfo=timezone.utc),
                        channel="email"),  # outside the 7 days
                Contact(connector="zendesk-main", id="5158", created_at=datetime(2026, 11, 20, 9, 12, 7, tzinfo=timezone.utc),
                        channel="email"),  # this ticket itself
                Contact(connector="freshdesk-eu", id="77", created_at=datetime(2026, 11, 25, tzinfo=timezone.utc),
                        channel="phone")]  # came back by phone on another helpdesk after the solve
    s = signals(zendesk_history, contacts)
    assert (s.repeat_contacts, s.repeat_after) == (1, 1)
    assert s.channels[0] == "chat" and s.channel_switch


def test_reopens_are_solved_to_open_transitions():
    h = history([status("new", 0), status("open", 1), status("solved", 2), status("open", 3), status("pending", 4),
                 status("solved", 5), status("closed", 6), status("hold", 7), status("solved", 8)])
    assert signals(h).reopens == 2  # solved→open and closed→hold; open→pending is not a reopen


def test_the_helpdesks_counters_stand_in_when_the_audits_cannot_be_read():
    h = TicketHistory(ticket=ticket(), counters={"group_stations": 3, "assignee_stations": 2, "reopens": 1,
                                                 "first_reply_minutes": 90}, missing=["audits: 403 Forbidden"])
    s = signals(h)
    assert (s.group_transfers, s.assignee_transfers, s.reopens, s.first_reply_seconds) == (2, 1, 1, 5400)
    assert s.partial


def test_chat_targets_are_seconds_not_hours():
    h = history([msg(Actor.CUSTOMER, 0, Channel.CHAT), msg(Actor.AGENT, 45, Channel.CHAT)], channel=Channel.CHAT)
    s = signals(h)
    assert (s.first_reply_seconds, s.reply_target_seconds, s.slow_first_reply) == (45, 30, True)
    assert not signals(h, reply_targets={"chat": 60}).slow_first_reply


def test_webhook_style_values_without_previous_give_the_same_transfers():
    # Freshdesk and the generic connector tell only the current group and agent, every time.
    h = history([group("Billing", 0), group("Billing", 1), group("Tier 2", 2), group("Tier 2", 3), group("Billing", 4)])
    s = signals(h)
    assert s.group_transfers == 2 and s.group_path == ["Billing", "Tier 2", "Billing"]


def test_missing_fields_and_no_email_still_give_signals():
    h = TicketHistory(ticket=Ticket(id="9", status=Status.SOLVED, requester=Person(email=None)),
                      entries=[HistoryEntry(at=T0, kind=EntryKind.MESSAGE, actor=Actor.CUSTOMER)])
    s = compute_signals(h, [], connector_id="generic", solved_at=None, settings=SignalSettings())
    assert s.customer_messages == 1 and s.first_reply_seconds is None and s.resolution_seconds is None


# --- the same history in any order, or with duplicates, gives the same signals ----------------------
entries = st.lists(st.builds(
    HistoryEntry,
    at=st.integers(0, 50).map(lambda m: T0 + timedelta(minutes=m)),
    kind=st.sampled_from(list(EntryKind)),
    actor=st.sampled_from(list(Actor)),
    value=st.sampled_from([None, "Billing", "Tier 2", "open", "solved", "pending", "Tom", "Lina"]),
    channel=st.sampled_from([None, Channel.EMAIL, Channel.CHAT, Channel.PHONE]),
), max_size=25)


@settings(max_examples=300, deadline=None)
@given(entries, st.randoms(use_true_random=False), st.integers(0, 5))
def test_order_and_duplicates_never_change_the_signals(items, rnd, dupes):
    base = signals(history(items))
    shuffled = list(items) + [rnd.choice(items) for _ in range(dupes if items else 0)]
    rnd.shuffle(shuffled)
    assert signals(history(shuffled)) == base


# --- effort ---------------------------------------------------------------------------------------
def test_a_low_answer_is_high_effort_whatever_the_signals_say():
    quiet = signals(history([]))
    result = assess(quiet, (2, "ces7"), EffortSettings(), window_days=7, many_messages=5)
    assert (result.level, result.basis, result.index) == ("high", "survey", 83)
    assert result.reasons[0].text == "answered 2 of 7 (Disagree)"
    assert assess(quiet, (4, "effort5"), EffortSettings(), window_days=7, many_messages=5).level == "high"


def test_a_good_answer_is_low_and_signals_add_reasons(zendesk_history):
    result = assess(signals(zendesk_history), (6, "ces7"), EffortSettings(), window_days=7, many_messages=5)
    assert result.level == "low" and [r.code for r in result.reasons] == [
        "group_transfers", "assignee_transfers", "channel_switch", "long_wait"]


def test_without_an_answer_the_signals_decide_with_their_reasons():
    h = history([group("Billing", 0), group("Tier 2", 1), group("Billing", 2), group("Tier 2", 3),
                 status("solved", 4), status("open", 5), status("solved", 6)])
    result = assess(signals(h), None, EffortSettings(), window_days=7, many_messages=5)
    assert result.basis == "signals" and result.level == "high" and result.index == 3 * 15 + 20
    assert result.reasons[0].text == "transferred 3 times: Billing → Tier 2 → Billing → Tier 2"
    assert result.reasons[1].text == "reopened once"
    mild = assess(signals(history([group("Billing", 0), group("Tier 2", 1)])), None, EffortSettings(),
                  window_days=7, many_messages=5)
    assert (mild.level, mild.index) == ("low", 15)


def test_thresholds_and_weights_are_settings():
    h = history([group("Billing", 0), group("Tier 2", 1)])
    result = assess(signals(h), None, EffortSettings(group_transfer=30, medium_at=30), window_days=7, many_messages=5)
    assert (result.level, result.index) == ("medium", 30)


def test_many_customer_messages_mean_repeating_information():
    h = history([msg(Actor.CUSTOMER, i) for i in range(6)])
    result = assess(signals(h), None, EffortSettings(), window_days=7, many_messages=5)
    assert result.reasons[-1].text == "wrote 6 messages"


@pytest.mark.parametrize("seconds,text", [(45, "45 s"), (600, "10 min"), (5400, "1 h 30 min"), (90000, "1 d 1 h")])
def test_durations_read_naturally(seconds, text):
    assert duration(seconds) == text


# --- helpers --------------------------------------------------------------------------------------
def ticket(channel=Channel.EMAIL) -> Ticket:
    return Ticket(id="1", status=Status.SOLVED, channel=channel, created_at=T0,
                  requester=Person(email="c@example.com"))


def history(items, channel=Channel.EMAIL) -> TicketHistory:
    return TicketHistory(ticket=ticket(channel), entries=list(items))


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def status(value: str, minutes: int) -> HistoryEntry:
    return HistoryEntry(at=at(minutes), kind=EntryKind.STATUS, actor=Actor.AGENT, value=value)


def group(value: str, minutes: int) -> HistoryEntry:
    return HistoryEntry(at=at(minutes), kind=EntryKind.GROUP, actor=Actor.AGENT, value=value)


def msg(actor: Actor, seconds: int, channel: Channel = Channel.EMAIL) -> HistoryEntry:
    return HistoryEntry(at=T0 + timedelta(seconds=seconds), kind=EntryKind.MESSAGE, actor=actor, channel=channel)


