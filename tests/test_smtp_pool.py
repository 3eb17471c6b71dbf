"""SMTP connections kept per process: reused while they answer, checked with a NOOP after idling,
replaced when the server dropped them (the message still sent exactly once), retired after
`smtp.messages_per_connection`, and never kept after an error."""

from __future__ import annotations

import time
from email.message import EmailMessage

import pytest

from ces.config.models import SmtpSettings
from ces.worker import smtp_pool
from ces.worker.demo.smtp_sink import MailSink
from ces.worker.mail import MailRefusedTemporarily, send_mail


@pytest.fixture(autouse=True)
def empty_pool():
    smtp_pool.clear()
    yield
    smtp_pool.clear()


def watched(sink: MailSink) -> list[tuple]:
    """The client address of every message's connection (one per connection: its source port)."""
    peers: list[tuple] = []
    handler = sink.controller.handler
    original = handler.handle_DATA

    async def handle_data(server, session, envelope):
        peers.append(session.peer)
        return await original(server, session, envelope)

    handler.handle_DATA = handle_data
    return peers


def message(n: int) -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "Acme <s@acme.test>", f"c{n}@example.com", f"mail {n}"
    msg.set_content("hello")
    return msg


def send(settings: SmtpSettings, count: int, first: int = 0) -> None:
    for n in range(first, first + count):
        send_mail(settings, message(n))


def test_one_connection_carries_the_messages_until_its_cap(sink):
    peers = watched(sink)
    send(SmtpSettings(host=sink.host, port=sink.port, messages_per_connection=3), 7)
    assert [m["Subject"] for m in sink.messages] == [f"mail {n}" for n in range(7)]
    assert [len(set(peers[i:i + 3])) for i in (0, 3, 6)] == [1, 1, 1]
    assert len(set(peers)) == 3


def test_without_a_pool_every_message_opens_its_own(sink):
    peers = watched(sink)
    send(SmtpSettings(host=sink.host, port=sink.port, pool_size=0), 3)
    assert len(sink.messages) == 3 and len(set(peers)) == 3


@pytest.mark.parametrize("noop_after", [0.0, 3600.0], ids=["noop-finds-it", "mail-from-finds-it"])
def test_a_connection_the_server_dropped_is_replaced_and_the_mail_sent_once(noop_after):
    first = MailSink().start()
    settings = SmtpSettings(host=first.host, port=first.port, noop_after_idle_seconds=noop_after)
    try:
        send(settings, 1)
    finally:
        first.stop()  # drops the kept connection
    second = MailSink(port=first.port).start()
    try:
        send(settings, 2, first=1)
        assert [m["Subject"] for m in second.messages] == ["mail 1", "mail 2"]
    finally:
        second.stop()
    assert [m["Subject"] for m in first.messages] == ["mail 0"]


def test_a_connection_idle_too_long_is_not_reused(sink):
    peers = watched(sink)
    settings = SmtpSettings(host=sink.host, port=sink.port, max_idle_seconds=0.2)
    send(settings, 1)
    time.sleep(0.3)
    send(settings, 1, first=1)
    assert len(sink.messages) == 2 and len(set(peers)) == 2


def test_after_a_refusal_the_connection_is_not_kept(sink):
    peers = watched(sink)
    settings = SmtpSettings(host=sink.host, port=sink.port)
    send(settings, 1)
    sink.refuse_next(1)
    with pytest.raises(MailRefusedTemporarily):
        send(settings, 1, first=1)
    send(settings, 1, first=2)
    assert [m["Subject"] for m in sink.messages] == ["mail 0", "mail 2"]
    assert peers[0] == peers[1] != peers[2]
