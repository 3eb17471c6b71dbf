"""CES numbers from the daily rollups (worker/rollups.py): one code path for `ces report`, the
Overview and the Teams page. Every function takes the caller's Scope first and refreshes the dirty
days before it reads.

CES = share of the answers that are easy on the scale (ces7: 5–7; effort5: 1–2), the mean beside it;
a range covers one scale, never mixed.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, timedelta

from sqlalchemy import func, or_, select

from ces.worker import rollups
from ces.worker.db.models import DailyRollup as R
from ces.worker.queries.intervals import wilson
from ces.worker.queries.scope import Scope
from ces.worker.surveys.scales import scale_of

# How a `by` key of `ces report` maps onto a rollup column ("week" is folded from the days).
BY_COLUMN = {"connector": R.connector_id, "channel": R.channel, "group": R.group_name, "agent": R.agent,
             "agent_email": R.agent_email, "language": R.language, "day": R.day, "week": R.day,
             "drivers": R.drivers}


@dataclass(frozen=True)
class Filters:
    """What the pages and `ces report` narrow a range by; None is "all"."""

    scale: str = "ces7"
    connector: str | None = None
    channel: str | None = None
    group: str | None = None
    agent: str | None = None  # the agent's e-mail, as scopes match agents
    language: str | None = None

    def where(self, stmt):
        # Signal-only tickets have no survey, hence no scale: they belong to every scale's range.
        stmt = stmt.where(or_(R.scale == self.scale, R.scale.is_(None)))
        for value, column in ((self.connector, R.connector_id), (self.channel, R.channel),
                              (self.group, R.group_name), (self.agent, R.agent_email),
                              (self.language, R.language)):
            if value:
                stmt = stmt.where(column == (value.strip().lower() if column is R.agent_email else value))
        return stmt

    def query(self) -> dict[str, str]:
        """As URL parameters (the ones set)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name)}


@dataclass
class Numbers:
    """The sums of a set of rollup rows and what the pages show from them."""

    scale: str
    surveys_sent: int = 0
    answers: int = 0
    score_sum: int = 0
    scores: tuple[int, ...] = (0,) * 7
    tickets_assessed: int = 0
    high_answered: int = 0
    high_signals: int = 0

    @property
    def easy(self) -> int:
        sc = scale_of(self.scale)
        return sum(self.scores[k - 1] for k in range(sc.good_min, sc.good_max + 1))

    @property
    def low(self) -> int:
        sc = scale_of(self.scale)
        return sum(self.scores[k - 1] for k in range(sc.low_min, sc.low_max + 1))

    @property
    def ces(self) -> float | None:
        return ratio(self.easy, self.answers)

    @property
    def ces_interval(self) -> tuple[float, float] | None:
        return wilson(self.easy, self.answers)

    @property
    def mean(self) -> float | None:
        return round(self.score_sum / self.answers, 2) if self.answers else None

    @property
    def response_rate(self) -> float | None:
        return ratio(self.answers, self.surveys_sent)

    @property
    def high_effort(self) -> int:
        return self.high_answered + self.high_signals

    @property
    def high_effort_share(self) -> float | None:
        return ratio(self.high_effort, self.tickets_assessed)

    @property
    def distribution(self) -> list[tuple[int, int]]:
        """(score, answers) for every point of the scale."""
        return [(k, self.scores[k - 1]) for k in scale_of(self.scale).scores]

    def add(self, other: Numbers) -> None:
        for name in ("surveys_sent", "answers", "score_sum", "tickets_assessed", "high_answered", "high_signals"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.scores = tuple(a + b for a, b in zip(self.scores, other.scores))


def ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


_SUMS = [func.sum(R.surveys_sent), func.sum(R.answers), func.sum(R.score_sum),
         *[func.sum(getattr(R, s)) for s in rollups.SCORES],
         func.sum(R.tickets_assessed), func.sum(R.high_answered), func.sum(R.high_signals)]


def _numbers(scale: str, sums) -> Numbers:
    v = [int(x or 0) for x in sums]
    return Numbers(scale, v[0], v[1], v[2], tuple(v[3:10]), v[10], v[11], v[12])


def grouped(scope: Scope, rt, since: date, until: date, filters: Filters, by: tuple[str, ...] = ()
            ) -> list[tuple[tuple, Numbers]]:
    """The rollup sums for [since, until), grouped by the `by` keys (BY_COLUMN), in key order."""
    rollups.refresh(rt)
    keys = [BY_COLUMN[b] for b in by]
    stmt = filters.where(scope.rollups(select(*keys, *_SUMS).where(R.day >= since, R.day < until)))
    if keys:
        stmt = stmt.group_by(*keys)
    with rt.transaction() as s:
        found = s.execute(stmt).all()
    return [(tuple(row[:len(keys)]), _numbers(filters.scale, row[len(keys):])) for row in found]


def totals(scope: Scope, rt, since: date, until: date, filters: Filters) -> Numbers:
    rows = grouped(scope, rt, since, until, filters)
    return rows[0][1] if rows else Numbers(filters.scale)


def monday(d: date) -> date:
    return d - timedelta(days=d.weekday())


def weekly(scope: Scope, rt, since: date, until: date, filters: Filters) -> list[tuple[date, Numbers]]:
    """Per week (starting Monday, UTC) that has surveys sent in the range."""
    return [(w, n) for w, n in summary(scope, rt, since, until, filters)[1] if n.surveys_sent]


def summary(scope: Scope, rt, since: date, until: date, filters: Filters
            ) -> tuple[Numbers, list[tuple[date, Numbers]]]:
    """The range's totals and its weeks from the first to the last that had surveys sent, those
    between without any included (a chart must not join two weeks across a silent one), from one
    read of the days."""
    total, weeks = Numbers(filters.scale), {}
    for (day,), numbers in grouped(scope, rt, since, until, filters, ("day",)):
        total.add(numbers)
        weeks.setdefault(monday(day), Numbers(filters.scale)).add(numbers)
    sent = sorted(w for w, n in weeks.items() if n.surveys_sent)
    if not sent:
        return total, []
    span = (sent[0] + timedelta(weeks=i) for i in range((sent[-1] - sent[0]).days // 7 + 1))
    return total, [(w, weeks.get(w) or Numbers(filters.scale)) for w in span]


def previous_period(since: date, until: date) -> tuple[date, date]:
    """The range of the same length just before."""
    return since - (until - since), since


def report_rows(scope: Scope, rt, since: date, until: date, *, scale: str, by: str | None) -> list[dict]:
    """`ces report`'s rows (worker/reports.py): per `by` key that had surveys sent."""
    filters = Filters(scale=scale)
    if by == "week":
        keyed = [(w.isoformat(), n) for w, n in weekly(scope, rt, since, until, filters)]
    else:
        keyed = [(key[0] if by else None, n)
                 for key, n in grouped(scope, rt, since, until, filters, (by,) if by else ())]
        if by:  # as ORDER BY key: none last
            keyed = sorted(((k, n) for k, n in keyed if n.surveys_sent), key=lambda kn: (kn[0] is None, kn[0] or ""))
    rows = []
    for key, n in keyed:
        row = {by: key} if by else {}
        row.update(surveys_sent=n.surveys_sent, responses=n.answers, response_rate=n.response_rate, ces=n.ces,
                   mean=n.mean)
        rows.append(row)
    return rows


def choices(scope: Scope, rt) -> dict[str, list[tuple[str, str]]]:
    """The values each filter can take, as (value, label), from the rollups the caller may see."""
    rollups.refresh(rt)
    found: dict[str, list[tuple[str, str]]] = {}
    with rt.transaction() as s:
        for name, column in (("connector", R.connector_id), ("channel", R.channel), ("group", R.group_name),
                             ("language", R.language)):
            values = s.execute(scope.rollups(select(column).distinct().where(column.isnot(None)))).scalars()
            found[name] = [(v, v) for v in sorted(values)]
        agents = s.execute(scope.rollups(select(R.agent_email, func.max(R.agent))
                                         .where(R.agent_email.isnot(None)).group_by(R.agent_email))).all()
    found["agent"] = sorted(((email, name or email) for email, name in agents), key=lambda a: a[1].lower())
    return found


@dataclass
class Line:
    """One group's or agent's CES on the Teams page; the line of surveys with no group (or agent) has
    the key "" and is never ranked: it is not a team, nor somebody."""

    key: str
    label: str
    numbers: Numbers
    rank: int | None = None
    enough: bool = False  # answers enough to show its CES


def _ranked(lines: list[Line], minimum: int) -> list[Line]:
    """Highest CES first among those with at least `minimum` answers; the others after, unranked,
    and the line without a group or agent last."""
    for line in lines:
        line.enough = line.numbers.answers >= max(minimum, 1)
    ranked = sorted((x for x in lines if x.enough and x.key),
                    key=lambda x: (-x.numbers.ces, -x.numbers.answers, x.label.lower()))
    for i, line in enumerate(ranked, start=1):
        line.rank = i
    rest = sorted((x for x in lines if x.rank is None),
                  key=lambda x: (not x.key, -x.numbers.answers, x.label.lower()))
    return ranked + rest


def by_group(scope: Scope, rt, since: date, until: date, filters: Filters, minimum: int) -> list[Line]:
    rows = grouped(scope, rt, since, until, filters, ("group",))
    return _ranked([Line(g or "", g or "", n) for (g,), n in rows if n.surveys_sent], minimum)


def by_agent(scope: Scope, rt, since: date, until: date, filters: Filters, minimum: int) -> list[Line]:
    """Per agent: by e-mail where the helpdesk records it, else by name."""
    lines: dict[str, Line] = {}
    for (email, name), n in grouped(scope, rt, since, until, filters, ("agent_email", "agent")):
        if not n.surveys_sent:
            continue
        key = email or name or ""
        line = lines.setdefault(key, Line(key, name or email or "", Numbers(filters.scale)))
        line.label = name or line.label
        line.numbers.add(n)
    return _ranked(list(lines.values()), minimum)
