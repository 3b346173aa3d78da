"""Seeded sampling helpers the generator and the plans share."""

from __future__ import annotations

import math
import random
from bisect import bisect
from collections.abc import Sequence
from itertools import accumulate


def allocate(total: int, weights: Sequence[float], rng: random.Random) -> list[int]:
    """Share `total` out over `weights`: the exact total, each share within one of its due."""
    weight_sum = sum(weights)
    if total <= 0 or weight_sum <= 0:
        return [0] * len(weights)
    offset = rng.random()
    counts: list[int] = []
    cumulative, previous = 0.0, 0
    for weight in weights:
        cumulative += weight * total / weight_sum
        reached = min(total, math.floor(cumulative + offset))
        counts.append(max(0, reached - previous))
        previous += counts[-1]
    # Floating point can leave the last unit unplaced; give it to the heaviest day.
    if previous != total:
        counts[max(range(len(weights)), key=lambda i: weights[i])] += total - previous
    return counts


def noise(rng: random.Random, sigma: float) -> float:
    """Day-to-day variation, so trend lines look like real ones rather than rulers."""
    return rng.lognormvariate(0.0, sigma)


def cum(weights: Sequence[float]) -> list[float]:
    """Cumulative weights, for `pick`."""
    return list(accumulate(weights))


def pick(rng: random.Random, cumulative: list[float]) -> int:
    """An index drawn by the weights `cumulative` was made from."""
    return min(bisect(cumulative, rng.random() * cumulative[-1]), len(cumulative) - 1)
