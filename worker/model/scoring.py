"""The stored model, scoring one ticket: plain arithmetic (no scikit-learn, which only a fit needs,
and which takes about a second to import)."""

from __future__ import annotations

import math
from dataclasses import dataclass


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

    def log_odds(self, x: list[float]) -> tuple[float, list[float]]:
        """The intercept plus one contribution per feature (coefficient × standardised value)."""
        contributions = [c * (v - m) / s for c, v, m, s in zip(self.coefficients, x, self.means, self.scales)]
        return self.intercept + sum(contributions), contributions

    def probability(self, x: list[float]) -> float:
        z, _ = self.log_odds(x)
        return 1 / (1 + math.exp(-z))
