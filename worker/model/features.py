"""A ticket's signals as the model's numbers: one named feature each, in a fixed order.

Counts are capped (a tenth transfer says little more than a third), reply times are ratios to the
channel's target (capped at 10 × the target; 0 when the channel has no target), and the channel is
one-hot against email, so that the coefficients read as "compared with an e-mail ticket"."""

from __future__ import annotations

from dataclasses import dataclass

CAP_COUNT = 5
CAP_MESSAGES = 20
CAP_RATIO = 10.0
CHANNELS = ("chat", "messaging", "phone", "web", "social", "api", "other")  # email is the baseline


@dataclass(frozen=True)
class Feature:
    name: str
    reason: str | None  # the assessment reason code this feature's contribution belongs to


FEATURES: tuple[Feature, ...] = (
    Feature("group_transfers", "group_transfers"),
    Feature("assignee_transfers", "assignee_transfers"),
    Feature("reopens", "reopened"),
    Feature("repeat_contacts", "repeat_contact"),
    Feature("repeat_after", "not_resolved_first_time"),
    Feature("channel_switch", "channel_switch"),
    Feature("first_reply_ratio", "slow_first_reply"),
    Feature("longest_wait_ratio", "long_wait"),
    Feature("customer_messages", "repeated_information"),
    *(Feature(f"channel_{c}", None) for c in CHANNELS),
)
NAMES = tuple(f.name for f in FEATURES)
REASON_OF = {f.name: f.reason for f in FEATURES if f.reason}


def _count(value, cap: int = CAP_COUNT) -> float:
    return float(min(int(value or 0), cap))


def _ratio(seconds, target) -> float:
    if not seconds or not target:
        return 0.0
    return min(float(seconds) / float(target), CAP_RATIO)


def vector(s: dict) -> list[float]:
    """The features of one ticket's signals (`TicketSignals` as a dict, or the stored JSON)."""
    target = s.get("reply_target_seconds")
    channel = s.get("channel") or "other"
    channel = channel if channel in CHANNELS or channel == "email" else "other"
    values = [
        _count(s.get("group_transfers")),
        _count(s.get("assignee_transfers")),
        _count(s.get("reopens")),
        _count(s.get("repeat_contacts")),
        _count(s.get("repeat_after")),
        1.0 if s.get("channel_switch") else 0.0,
        _ratio(s.get("first_reply_seconds"), target),
        _ratio(s.get("longest_wait_seconds"), target),
        _count(s.get("customer_messages"), CAP_MESSAGES),
    ]
    values += [1.0 if channel == c else 0.0 for c in CHANNELS]
    return values
