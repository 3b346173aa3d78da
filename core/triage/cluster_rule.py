"""The cluster rule, one pure function for triage and for governance.

A cluster is at least `cluster_min_reports` near misses of one type in one service or region
within `cluster_window_days`, and, unless `cluster_baseline_factor` is 0, more than happens by
chance at the usual rate: at least that factor times the usual count per window, and a count
that would be this high by chance less often than `cluster_p_value` (a Poisson tail at the
usual rate over the baseline weeks). With a busy service's natural variation, "3 when 1.5 is
usual" happens every few weeks; "6 when 1.5 is usual" rarely does.
"""

from __future__ import annotations

import math

from core.config import TriageRules


def chance_at_least(count: int, usual: float) -> float:
    """P(X >= count) for a Poisson count with mean `usual`."""
    if count <= 0:
        return 1.0
    if usual <= 0:
        return 0.0
    below = sum(math.exp(-usual + k * math.log(usual) - math.lgamma(k + 1))
                for k in range(count))
    return max(0.0, 1.0 - below)


def is_cluster(count: int, usual: float, rules: TriageRules) -> bool:
    """Whether `count` reports in one window (with `usual` per window before) is a cluster."""
    if count < rules.cluster_min_reports:
        return False
    if rules.cluster_baseline_factor == 0:
        return True
    return (count >= rules.cluster_baseline_factor * usual
            and chance_at_least(count, usual) <= rules.cluster_p_value)
