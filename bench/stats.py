"""The statistics the verdicts, the seed summaries, the horizons and compare rest on, in one place.

Pure functions of numbers (no pandas, no scipy): exact binomial intervals for a share of seeds, the
normal tail for one-sided tests, and Holm's step-down correction for a family of tests.
"""

from __future__ import annotations

import math
from typing import Sequence

LEVEL = 0.95  # every interval bench reports is a 95% interval
Z_ONE_SIDED = 1.6449  # the one-sided 5% point of the normal: a verdict's test


def binomial_cdf(k: int, n: int, p: float) -> float:
    """P(X <= k) for X ~ Binomial(n, p)."""
    if k < 0:
        return 0.0
    if k >= n:
        return 1.0
    return math.fsum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k + 1))


def clopper_pearson(k: int, n: int, level: float = LEVEL) -> tuple[float, float]:
    """The exact (Clopper-Pearson) two-sided interval for a probability seen k times in n trials: the
    solve probability behind k of n seeds solving. 0 of 3 still allows up to 0.708 at 95%."""
    if n <= 0:
        return math.nan, math.nan
    tail = (1 - level) / 2
    low = 0.0 if k == 0 else _solve(lambda p: 1 - binomial_cdf(k - 1, n, p) - tail)
    high = 1.0 if k == n else _solve(lambda p: tail - binomial_cdf(k, n, p))
    return low, high


def _solve(increasing, iterations: int = 80) -> float:
    """The root in [0, 1] of a function that increases with p (bisection)."""
    low, high = 0.0, 1.0
    for _ in range(iterations):
        middle = (low + high) / 2
        low, high = (middle, high) if increasing(middle) < 0 else (low, middle)
    return (low + high) / 2


def normal_p_one_sided(z: float) -> float:
    """P(Z >= z) for a standard normal Z."""
    return 0.5 * math.erfc(z / math.sqrt(2))


def normal_p_two_sided(z: float) -> float:
    return min(1.0, 2 * normal_p_one_sided(abs(z)))


def holm(p_values: Sequence[float], alpha: float = 1 - LEVEL) -> list[bool]:
    """Holm's step-down rule: which of a family of tests reject at family-wise error `alpha` (nan p-values
    are not tests and never reject)."""
    tested = sorted((p, i) for i, p in enumerate(p_values) if not math.isnan(p))
    rejected = [False] * len(p_values)
    for rank, (p, index) in enumerate(tested):
        if p > alpha / (len(tested) - rank):
            break
        rejected[index] = True
    return rejected
