"""The stored model, scoring one ticket: plain arithmetic (no scikit-learn, which only a fit needs,
and which takes about a second to import)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property


@dataclass
class Model:
    """What is stored: enough to score a ticket and to explain the score."""

    features: list[str]
    coefficients: list[float]  # on the standardised features
    intercept: float
    means: list[float]
    scales: list[float]
    high_at: float | None  # probability from which a silent ticket is high effort (None: never)
    medium_at: float  # … and medium: more likely than the answers' own rate of low answers
    id: int | None = None  # its fit's row in effort_models, once stored (assessments record it)

    def log_odds(self, x: list[float]) -> tuple[float, list[float]]:
        """The intercept plus one contribution per feature (coefficient × standardised value)."""
        contributions = [c * (v - m) / s for c, v, m, s in zip(self.coefficients, x, self.means, self.scales)]
        return self.intercept + sum(contributions), contributions

    def probability(self, x: list[float]) -> float:
        z, _ = self.log_odds(x)
        return 1 / (1 + math.exp(-z))

    def explain(self, x: list[float]) -> tuple[float, float, dict[str, float]]:
        """(probability, the log-odds of a ticket with no signal at all — an e-mail ticket with no
        transfer, reopen, contact, switch, reply time or message — and each present feature's
        contribution above it, coefficient × value ÷ spread). The baseline and the contributions
        add up to the log-odds: each reason's weight is its exact share of the score."""
        contributions = {name: w * v for name, w, v in zip(self.features, self._per_unit, x) if v}
        z = self._baseline + sum(contributions.values())
        return 1 / (1 + math.exp(-z)), self._baseline, contributions

    # Worked out once per model, not per ticket (the rebuild scores thousands a second); not stored.
    @cached_property
    def _per_unit(self) -> list[float]:
        """Each feature's coefficient per unit of its raw value (coefficient ÷ spread)."""
        return [c / s for c, s in zip(self.coefficients, self.scales)]

    @cached_property
    def _baseline(self) -> float:
        return self.intercept - sum(w * m for w, m in zip(self._per_unit, self.means))

    def level(self, probability: float) -> str:
        if self.high_at is not None and probability >= self.high_at:
            return "high"
        return "medium" if probability >= self.medium_at else "low"
