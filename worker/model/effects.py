"""What each driver does to the odds of a low answer with the other signals held fixed: the model's
adjusted effect, shown beside the raw cost (queries/drivers.py, `ces report --by signal`).

The raw cost compares the tickets with a driver to those without, so a driver that comes with
others (a transfer often brings a long wait) is charged for them too. The model separates them:
for the answered tickets that have the driver, the mean of what its features add to the log-odds
(coefficient × value ÷ spread, as a flag's reasons), as an odds ratio — 2.0: a ticket like these
has twice the odds of a low answer it would have without the driver, all else equal. Computed at
fit time from the answers the fit learned from, and kept with the fit (metrics["effects"]), so
the pages read it, never recompute it."""

from __future__ import annotations

import math

from ces.worker.model.features import NAMES, REASON_OF
from ces.worker.model.scoring import Model
from ces.worker.rollups import DRIVERS, drivers_mask

# A driver of the console (rollups.DRIVERS: reason codes) is the features whose reason it names.
DRIVER_FEATURES = {driver: tuple(n for n in NAMES if REASON_OF.get(n) in codes) for driver, codes in DRIVERS.items()}
# `ces report --by signal`'s signals (queries/reports.SIGNAL_BUCKETS), each with its features.
SIGNAL_FEATURES = {"transfers": ("group_transfers", "assignee_transfers"), "reopened": ("reopens",),
                   "repeat_contact": ("repeat_contacts", "repeat_after"), "channel_switch": ("channel_switch",),
                   "reply_delay_breach": ("first_reply_ratio", "longest_wait_ratio")}


def signal_label(signal: str, value: str) -> str:
    return f"{signal}:{value}"


def _signal_labels(s: dict) -> list[str]:
    transfers = (s.get("group_transfers") or 0) + (s.get("assignee_transfers") or 0)
    present = {"transfers": ("1" if transfers == 1 else "2+") if transfers else None,
               "reopened": (s.get("reopens") or 0) > 0,
               "repeat_contact": (s.get("repeat_contacts") or 0) + (s.get("repeat_after") or 0) > 0,
               "channel_switch": bool(s.get("channel_switch")),
               "reply_delay_breach": bool(s.get("slow_first_reply") or s.get("long_wait"))}
    return [signal_label(k, v if isinstance(v, str) else "yes") for k, v in present.items() if v]


def labels(signals: dict, reason_codes: list[str]) -> list[str]:
    """The drivers a ticket has (by the fixed rules' reasons, as the console's rollups count them)
    and its buckets of the report's signals other than none."""
    mask = drivers_mask(",".join(reason_codes))
    return [d for i, d in enumerate(DRIVERS) if mask & (1 << i)] + _signal_labels(signals)


def _features_of(label: str) -> tuple[str, ...]:
    return DRIVER_FEATURES.get(label) or SIGNAL_FEATURES[label.split(":", 1)[0]]


def effects(model: Model, vectors: list[list[float]], labelled: list[list[str]]) -> dict[str, float]:
    """Each label's adjusted odds ratio over the rows that have it (labels no row has: absent)."""
    where = {name: i for i, name in enumerate(model.features)}
    sums: dict[str, float] = {}
    counts: dict[str, int] = {}
    for x, found in zip(vectors, labelled):
        for label in found:
            idx = [where[f] for f in _features_of(label)]
            sums[label] = sums.get(label, 0.0) + sum(model.coefficients[j] * x[j] / model.scales[j] for j in idx)
            counts[label] = counts.get(label, 0) + 1
    return {label: round(math.exp(sums[label] / counts[label]), 3) for label in sums}
