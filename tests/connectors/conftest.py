"""What the connector tests against a simulated helpdesk share: a stand-in for ces-worker's intake
that keeps what a simulator (or the generic sender) POSTs."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from ces.connectors.models import InboundRequest
from ces.connectors.simulator import StubResponse, StubServer


@pytest.fixture(scope="session")
def intake_stub():
    # One for the session: stopping a server takes half a second.
    server = StubServer()
    server.route("POST", r"/webhooks/[\w-]+$")(lambda req: StubResponse(202, {"status": "accepted"}))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def receiver(intake_stub):
    """The intake stand-in, with nothing received yet."""
    intake_stub.requests.clear()
    return intake_stub


def received(server: StubServer) -> list[InboundRequest]:
    """What the stand-in received, as intake would hand it to the connector."""
    return [InboundRequest(method=r.method, path=r.path, query="", headers=r.headers, body=r.body,
                           received_at=datetime.now(timezone.utc), public_url=server.url) for r in server.requests]
