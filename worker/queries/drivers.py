"""What makes it hard: per driver of effort (worker/rollups.DRIVERS), from the daily rollups.

- prevalence: the share of the answers whose ticket had the driver;
- CES with and without it;
- the CES points it costs: prevalence × (CES without − CES with), what the CES would gain if the
  tickets with the driver were as easy as the others; its 95 % interval is Newcombe's for the
  difference, times the prevalence (taken as known);
- its share of the high-effort tickets (answered and signal-only).
Sorted by cost, highest first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from ces.worker.queries.ces import Filters, Numbers, grouped, ratio
from ces.worker.queries.intervals import newcombe
from ces.worker.queries.scope import Scope
from ces.worker.rollups import DRIVERS


@dataclass
class Driver:
    name: str
    present: Numbers
    absent: Numbers
    high_effort_total: int

    @property
    def prevalence(self) -> float | None:
        return ratio(self.present.answers, self.present.answers + self.absent.answers)

    @property
    def ticket_prevalence(self) -> float | None:
        return ratio(self.present.tickets_assessed, self.present.tickets_assessed + self.absent.tickets_assessed)

    @property
    def difference(self) -> float | None:
        """CES without − CES with: how much easier the tickets without it are."""
        if self.present.ces is None or self.absent.ces is None:
            return None
        return self.absent.easy / self.absent.answers - self.present.easy / self.present.answers

    @property
    def cost(self) -> float | None:
        if self.difference is None:
            return None
        return self.present.answers / (self.present.answers + self.absent.answers) * self.difference

    @property
    def cost_interval(self) -> tuple[float, float] | None:
        interval = newcombe(self.absent.easy, self.absent.answers, self.present.easy, self.present.answers)
        if interval is None:
            return None
        share = self.present.answers / (self.present.answers + self.absent.answers)
        return interval[0] * share, interval[1] * share

    @property
    def high_effort_share(self) -> float | None:
        return ratio(self.present.high_effort, self.high_effort_total)


def drivers(scope: Scope, rt, since: date, until: date, filters: Filters) -> list[Driver]:
    by_mask = grouped(scope, rt, since, until, filters, ("drivers",))
    total_high = sum(n.high_effort for _, n in by_mask)
    found = []
    for bit, name in enumerate(DRIVERS):
        present, absent = Numbers(filters.scale), Numbers(filters.scale)
        for (mask,), n in by_mask:
            (present if mask & (1 << bit) else absent).add(n)
        found.append(Driver(name, present, absent, total_high))
    return sorted(found, key=lambda d: (d.cost is None, -(d.cost or 0), -d.present.tickets_assessed))
