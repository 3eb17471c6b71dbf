"""A simulated helpdesk with planted drivers of effort, played through the simulated Zendesk, for
the end-to-end test of the learned model (tests/test_model_end_to_end.py).

The planted truth: each ticket gets each of four drivers — a transfer to another team, a reopen, an
earlier contact in the days before, a switch of channel by the customer — at random, and the
customer truly had a hard time when two or more came together. Two things the fixed weights count
but that do not matter here are planted as noise: hand-overs between agents (two or three: shift
changes), and many messages from the customer. So the fixed weights rank some easy tickets above
hard ones, and their threshold (50) misses most hard tickets with two drivers (30–40 points). A customer who answers answers low (1–3 of 7) with a high chance when the
ticket was hard and a small one when not; about half answer."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

DRIVERS = ("transfer", "reopen", "earlier_contact", "channel_switch")
SHARE = 0.3  # of tickets with each driver
HARD_AT = 2  # drivers together make the customer's effort high
LOW_IF_HARD, LOW_IF_EASY = 0.9, 0.06  # the chance of a low answer
ANSWERS = 0.5  # the share of customers who answer


@dataclass
class Planted:
    ticket_id: int
    drivers: set[str] = field(default_factory=set)
    answer: int | None = None  # the score the customer gives (1–7), None: silent

    @property
    def hard(self) -> bool:
        return len(self.drivers) >= HARD_AT


def plan(rng: random.Random) -> tuple[set[str], bool, bool]:
    """One ticket's drivers and its noise: (drivers, handed between agents, many messages)."""
    return {d for d in DRIVERS if rng.random() < SHARE}, rng.random() < 0.35, rng.random() < 0.25


def answer(rng: random.Random, hard: bool) -> int | None:
    if rng.random() >= ANSWERS:
        return None
    low = rng.random() < (LOW_IF_HARD if hard else LOW_IF_EASY)
    return rng.randint(1, 3) if low else rng.randint(5, 7)


class Helpdesk:
    """Plays tickets on a ZendeskSimulator (its webhooks go to the served app)."""

    def __init__(self, sim, rng: random.Random):
        self.sim, self.rng = sim, rng
        self.groups = [sim.add_group(g) for g in ("Billing", "Technical Support", "Tier 2")]
        self.agents = [sim.add_user(n, e, role="agent") for n, e in
                       (("Priya Patel", "priya@acme.test"), ("Tom Becker", "tom@acme.test"),
                        ("Lina Chen", "lina@acme.test"))]

    def solve(self, i: int) -> Planted:
        sim, rng = self.sim, self.rng
        drivers, handed, chatty = plan(rng)
        channel = rng.choice(("email", "email", "web"))
        customer = sim.add_user(f"Customer {i}", f"customer{i}@example.com")
        if "earlier_contact" in drivers:  # asked the same way two days ago
            sim.create_ticket(customer, "First try", channel=channel, group_id=self.groups[0],
                              created_at=datetime.now(timezone.utc) - timedelta(days=2))
        agent, other = rng.sample(self.agents, 2)
        group = rng.choice(self.groups[:2])
        ticket = sim.create_ticket(customer, f"Question {i}", channel=channel, group_id=group, assignee_id=agent)
        sim.comment(ticket.id, agent, "Thanks for reaching out, let me check.")
        for _ in range(rng.randint(6, 9) if chatty else rng.randint(0, 2)):
            sim.comment(ticket.id, customer, "Some more detail.", channel=channel)
        if "transfer" in drivers:
            sim.assign(ticket.id, by=agent, group_id=self.groups[2])
        if handed:  # a shift change or two: routine here, customers do not mind
            for step in range(rng.randint(2, 3)):
                sim.assign(ticket.id, by=agent, assignee_id=(other, agent)[step % 2])
        if "channel_switch" in drivers:
            sim.comment(ticket.id, customer, "Writing from the other app.", channel="chat" if channel != "chat" else "email")
        if "reopen" in drivers:  # solved once, the customer wrote back (neither told: one survey, after)
            sim.set_status(ticket.id, "solved", send=False)
            sim.set_status(ticket.id, "open", send=False)
        [resp] = sim.set_status(ticket.id, "solved")
        assert resp.status_code == 202, resp.text
        return Planted(ticket.id, drivers, answer(rng, len(drivers) >= HARD_AT))
