import cProfile, pstats, time
import pytest
from sqlalchemy import text
from ces.connectors.zendesk.simulator import ZendeskSimulator
from tests.support import ZENDESK_SECRET, ZENDESK_TOKEN


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_diag(config, make_rt, queue, sink):
    sim = ZendeskSimulator(email="admin@acme.test", token=ZENDESK_TOKEN, secret=ZENDESK_SECRET).start()
    config.write(smtp_port=sink.port, zendesk_url=sim.url)
    rt = make_rt()
    import ces.worker.runtime as r
    sim.webhook_url = None
    agent = sim.add_user("Priya Patel", "priya@acme.test", role="agent")
    tickets = [sim.create_ticket(sim.add_user(f"C {i}", f"c{i}@example.com", locale="en-US"), f"Q {i}", assignee_id=agent) for i in range(81)]
    from tests.pipeline import deliver
    from tests.support import zendesk_headers
    import json
    from ces.worker.scheduler import tick
    def run(batch):
        for t in batch:
            sim.tickets[t.id].status = "solved"
            body = json.dumps({"ces_event": "ticket.solved", "ticket_id": str(t.id)}).encode()
            deliver(rt, "zendesk-main", body, {"X-Zendesk-Webhook-Invocation-Id": f"inv{t.id}"}, verify=False)
        queue.drain(rt)
        with rt.transaction() as s:
            s.execute(text("update jobs set due_at = now(), next_try_at = now() where kind = 'collect'"))
        tick(rt)
        queue.drain(rt)
    run(tickets[:1])
    prof = cProfile.Profile(time.process_time)
    prof.enable()
    run(tickets[1:])
    prof.disable()
    st = pstats.Stats(prof)
    st.sort_stats("cumulative").print_stats(r"wt/cpu/(worker|connectors)", 60)
    st.sort_stats("tottime").print_stats(25)
    print("MAILS", len(sink.messages))
    sim.stop()
