"""The two effort scales. Each answer keeps its scale; reports never mix them.

ces7 (CES 2.0, Gartner): "<Company> made it easy for me to handle my issue.", 1 Strongly disagree …
7 Strongly agree; higher is better; CES = share of answers 5–7.
effort5: "How much effort did you personally have to put forth to handle your request?", 1 Very low
effort … 5 Very high effort; LOWER is better; the share reported is of answers 1–2 (low effort).
"""

from __future__ import annotations

from dataclasses import dataclass

from ces.worker.i18n import N_


@dataclass(frozen=True)
class Scale:
    key: str
    points: int
    labels: tuple[str, ...]  # untranslated; translated when rendered
    good_min: int  # answers in [good_min, good_max] count as "easy"
    good_max: int
    low_min: int  # answers in [low_min, low_max] are a high-effort report
    low_max: int
    higher_is_better: bool

    @property
    def scores(self) -> range:
        return range(1, self.points + 1)

    def valid(self, score: int) -> bool:
        return 1 <= score <= self.points

    def is_good(self, score: int) -> bool:
        return self.good_min <= score <= self.good_max

    def is_low(self, score: int) -> bool:
        return self.low_min <= score <= self.low_max


CES7 = Scale(
    key="ces7", points=7,
    labels=(N_("Strongly disagree"), N_("Disagree"), N_("Somewhat disagree"),
            N_("Neither agree nor disagree"), N_("Somewhat agree"), N_("Agree"), N_("Strongly agree")),
    good_min=5, good_max=7, low_min=1, low_max=3, higher_is_better=True,
)
EFFORT5 = Scale(
    key="effort5", points=5,
    labels=(N_("Very low effort"), N_("Low effort"), N_("Moderate effort"), N_("High effort"),
            N_("Very high effort")),
    good_min=1, good_max=2, low_min=4, low_max=5, higher_is_better=False,
)

SCALES = {s.key: s for s in (CES7, EFFORT5)}


def scale_of(key: str) -> Scale:
    return SCALES[key]
