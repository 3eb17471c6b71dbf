"""Answer + signals → an effort assessment: level (low / medium / high), an index 0–100, reasons.

- The index is the sum of the `[effort]` weights of the signals present, capped at 100; with an
  answer, the answer's own position on its scale (0 = easiest, 100 = hardest) counts too, and the
  index is the larger of the two.
- With an answer, the answer decides the level: a low answer (1–3 on ces7, 4–5 on effort5) is high
  effort whatever the signals say, a middle answer (4 on ces7, 3 on effort5) medium, a good one
  low; the signals add their reasons.
- With no answer (most customers never answer), the signals alone decide: high from `high_at`,
  medium from `medium_at`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from ces.config.models import EffortSettings
from ces.worker.model.features import REASON_OF, vector
from ces.worker.model.scoring import Model
from ces.worker.signals.definitions import TicketSignals
from ces.worker.surveys.scales import scale_of

Level = Literal["low", "medium", "high"]


class Reason(BaseModel):
    code: str
    text: str
    weight: float | None = None  # with the learned model: its contribution to the log-odds of a low answer


class Assessment(BaseModel):
    level: Level
    index: int
    reasons: list[Reason]
    basis: Literal["survey", "signals"]
    partial: bool = False


def duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if seconds < 3600:
        return f"{minutes} min"
    if seconds < 86400:
        return f"{hours} h {minutes % 60} min" if minutes % 60 else f"{hours} h"
    return f"{days} d {hours % 24} h" if hours % 24 else f"{days} d"


def _times(n: int) -> str:
    return "once" if n == 1 else ("twice" if n == 2 else f"{n} times")


def signal_reasons(s: TicketSignals, w: EffortSettings, window_days: float) -> tuple[float, list[Reason]]:
    score, reasons = _signal_reasons(dict(s), w, window_days)
    return score, [Reason(code=code, text=text) for code, text in reasons]


# The definitions work on the signals as a dict (`TicketSignals.model_dump()`, or what
# `signals_from_json` gives the rebuild) and reasons as (code, text): one definition for both paths.
def _signal_reasons(s: dict, w: EffortSettings, window_days: float) -> tuple[float, list[tuple[str, str]]]:
    score, reasons = 0.0, []

    def add(code: str, weight: float, text: str) -> None:
        nonlocal score
        score += weight
        reasons.append((code, text))

    if s["group_transfers"]:
        path = f": {' → '.join(s['group_path'])}" if len(s["group_path"]) > 1 else ""
        add("group_transfers", w.group_transfer * s["group_transfers"],
            f"transferred {_times(s['group_transfers'])}{path}")
    if s["assignee_transfers"]:
        add("assignee_transfers", w.assignee_transfer * s["assignee_transfers"],
            f"handed between {s['assignee_transfers'] + 1} agents")
    if s["reopens"]:
        add("reopened", w.reopen * s["reopens"], f"reopened {_times(s['reopens'])}")
    if s["repeat_contacts"]:
        add("repeat_contact", w.repeat_contact * min(s["repeat_contacts"], 3),
            f"contacted {_times(s['repeat_contacts'])} more in the {window_days:g} days before")
    if s["repeat_after"]:
        add("not_resolved_first_time", w.not_resolved_first_time,
            f"came back {_times(s['repeat_after'])} within {window_days:g} days after the solve")
    if s["channel_switch"]:
        add("channel_switch", w.channel_switch, f"switched channels: {' → '.join(s['channels'])}")
    target = s["reply_target_seconds"]
    if s["slow_first_reply"] and target is not None:
        add("slow_first_reply", w.slow_first_reply,
            f"first reply after {duration(s['first_reply_seconds'])} ({s['channel']} target {duration(target)})")
    if s["long_wait"] and target is not None:
        add("long_wait", w.long_wait, f"waited up to {duration(s['longest_wait_seconds'])} for a reply "
                                      f"({s['channel']} target {duration(target)})")
    return score, reasons


def assessment(s: dict, answer: tuple[int, str] | None, effort: EffortSettings, *, window_days: float,
               many_messages: int, model: Model | None = None
               ) -> tuple[Level, int, list[tuple[str, str, float | None]], str, bool]:
    """`assess` on the signals as a dict: (level, index, reasons as (code, text, weight), basis, partial).
    With a learned model (worker/model), the signals' index is its probability of a low answer × 100,
    a silent ticket's level comes from its thresholds, and each reason carries its weight."""
    score, found = _signal_reasons(s, effort, window_days)
    partial = bool(s["missing"])
    if s["customer_messages"] >= many_messages:
        score += effort.repeated_information
        found.append(("repeated_information", f"wrote {s['customer_messages']} messages"))
    if model is None:
        index, reasons = min(100, round(score)), [(code, text, None) for code, text in found]
        signal_level: Level = "high" if index >= effort.high_at else ("medium" if index >= effort.medium_at else "low")
    else:
        index, reasons, signal_level = _learned(s, found, model)
    if answer is None:
        return signal_level, index, reasons, "signals", partial
    return _answered(answer, index, reasons, partial)


def _answered(answer: tuple[int, str], index: int, reasons: list, partial: bool):
    """With an answer, the answer decides the level; the signals add their reasons."""
    value, scale_key = answer
    scale = scale_of(scale_key)
    hardest = (scale.points - value) if scale.higher_is_better else (value - 1)
    answer_index = round(100 * hardest / (scale.points - 1))
    label = scale.labels[value - 1]
    level: Level = "high" if scale.is_low(value) else "low" if scale.is_good(value) else "medium"
    if level != "low":
        code = "low_answer" if level == "high" else "neutral_answer"
        reasons.insert(0, (code, f"answered {value} of {scale.points} ({label})", None))
    return level, max(index, answer_index), reasons, "survey", partial


MIN_EXTRA_WEIGHT = 0.05  # log-odds: what a feature no fixed rule names must add to be shown as a reason


def _learned(s: dict, found: list[tuple[str, str]], model: Model) -> tuple[int, list, Level]:
    """The model's probability, and the reasons weighted by what each adds to its log-odds: the
    fixed rules' reasons with their features' contributions, then any other feature that adds (a
    long first reply within target, many messages, the channel), the heaviest first."""
    p, _, contributions = model.explain(vector(s))
    texts, weights = dict(found), {}
    for name, weight in contributions.items():
        code = REASON_OF.get(name)
        if code not in texts:
            code = name
            if weight < MIN_EXTRA_WEIGHT:
                continue  # a feature that adds (next to) nothing, or lowers the odds, is no reason for a flag
            texts[code] = feature_text(name, s)
        weights[code] = weights.get(code, 0.0) + weight
    reasons = sorted(((code, text, round(weights.get(code, 0.0), 3)) for code, text in texts.items()),
                     key=lambda r: -r[2])
    return round(100 * p), reasons, model.level(p)


def feature_text(name: str, s: dict) -> str:
    """A feature's words where no fixed rule names it."""
    target = s.get("reply_target_seconds")
    if name == "first_reply_ratio":
        return f"first reply after {duration(s['first_reply_seconds'])} ({s['channel']} target {duration(target)})"
    if name == "longest_wait_ratio":
        return f"waited up to {duration(s['longest_wait_seconds'])} for a reply ({s['channel']} target {duration(target)})"
    if name == "customer_messages":
        count = s["customer_messages"]
        return f"wrote {count} message{'' if count == 1 else 's'}"
    return f"came by {name.removeprefix('channel_')}" if name.startswith("channel_") else name.replace("_", " ")


def assess(signals: TicketSignals, answer: tuple[int, str] | None, effort: EffortSettings, *,
           window_days: float, many_messages: int, model: Model | None = None) -> Assessment:
    level, index, reasons, basis, partial = assessment(dict(signals), answer, effort, window_days=window_days,
                                                       many_messages=many_messages, model=model)
    return Assessment(level=level, index=index, reasons=[Reason(code=c, text=t, weight=w) for c, t, w in reasons],
                      basis=basis, partial=partial)
