"""95 % intervals for shares: Wilson's score interval for one proportion, Newcombe's hybrid score
interval (his method 10, built from two Wilson intervals) for a difference of two.

Newcombe, R. G. (1998). Interval estimation for the difference between independent proportions:
comparison of eleven methods. Statistics in Medicine 17, 873–890.
"""

from __future__ import annotations

from math import sqrt

Z95 = 1.959963984540054


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    """The interval for successes / n; None without observations."""
    if n <= 0:
        return None
    p = successes / n
    centre = p + z * z / (2 * n)
    margin = z * sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    denominator = 1 + z * z / n
    return max(0.0, (centre - margin) / denominator), min(1.0, (centre + margin) / denominator)


def newcombe(s1: int, n1: int, s2: int, n2: int, z: float = Z95) -> tuple[float, float] | None:
    """The interval for s1/n1 − s2/n2; None when either side has no observations."""
    a, b = wilson(s1, n1, z), wilson(s2, n2, z)
    if a is None or b is None:
        return None
    p1, p2 = s1 / n1, s2 / n2
    (l1, u1), (l2, u2) = a, b
    d = p1 - p2
    return d - sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2), d + sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
