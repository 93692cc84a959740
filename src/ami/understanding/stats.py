"""The few statistics the understanding reports need, in numpy (scipy is not a dependency).

- `pearson_r` and `r2_score` score a probe's predictions against the truth.
- `auroc` is the Mann-Whitney estimate of P(positive > negative), ties counting one half.
- `sign_test` is the exact one-sided paired sign test: under the null hypothesis each nonzero
  paired difference is positive with probability 1/2, so the number of positive differences is
  Binomial(n, 1/2) and the p-value is its upper tail, summed exactly with `math.comb`.
- `binomial_upper_tail` is the exact one-sided test of a flag count against a rate: is a control
  flagged more often than the false-alarm rate its threshold was calibrated to?
"""

from __future__ import annotations

import math

import numpy as np

from ami.errors import ShapeError


def _pair(a: np.ndarray, b: np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(a, np.float64).reshape(-1), np.asarray(b, np.float64).reshape(-1)
    if a.shape != b.shape or a.size < 2:
        raise ShapeError(f"{what} needs two arrays of equal length >= 2, got {a.size} and {b.size}")
    return a, b


def pearson_r(truth: np.ndarray, predicted: np.ndarray) -> float:
    """Pearson correlation of `truth [N]` and `predicted [N]` (0 when either is constant)."""
    x, y = _pair(truth, predicted, "pearson_r")
    x, y = x - x.mean(), y - y.mean()
    norm = math.sqrt(float(x @ x) * float(y @ y))
    return float(x @ y) / norm if norm > 0 else 0.0


def r2_score(truth: np.ndarray, predicted: np.ndarray) -> float:
    """Coefficient of determination 1 - SS_res / SS_tot of `predicted [N]` for `truth [N]`."""
    x, y = _pair(truth, predicted, "r2_score")
    total = float(((x - x.mean()) ** 2).sum())
    residual = float(((x - y) ** 2).sum())
    return 1.0 - residual / total if total > 0 else 0.0


def auroc(positives: np.ndarray, negatives: np.ndarray) -> float:
    """Area under the ROC curve: P(a positive's score > a negative's), ties counting 1/2.

    Args:
        positives: scores `[P]` that should be high (e.g. surprise at an impossible event).
        negatives: scores `[N]` that should be low (the control twins).
    """
    pos = np.asarray(positives, np.float64).reshape(-1)
    neg = np.asarray(negatives, np.float64).reshape(-1)
    if pos.size == 0 or neg.size == 0:
        raise ShapeError(f"auroc needs scores on both sides, got {pos.size} and {neg.size}")
    scores = np.concatenate([pos, neg])
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(scores.size)
    ranks[order] = np.arange(1, scores.size + 1)
    # average the ranks of ties
    sorted_scores = scores[order]
    starts = np.flatnonzero(np.r_[True, sorted_scores[1:] != sorted_scores[:-1]])
    ends = np.r_[starts[1:], scores.size]
    for start, end in zip(starts, ends, strict=True):
        if end - start > 1:
            ranks[order[start:end]] = (start + end + 1) / 2
    u = ranks[: pos.size].sum() - pos.size * (pos.size + 1) / 2
    return float(u / (pos.size * neg.size))


def sign_test(differences: np.ndarray) -> float:
    """Exact one-sided sign test p-value for `differences [N]` being positive.

    Zero differences carry no sign and are dropped; with no nonzero difference the p-value is 1.
    """
    d = np.asarray(differences, np.float64).reshape(-1)
    d = d[d != 0]
    n, k = int(d.size), int((d > 0).sum())
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(k, n + 1))
    return float(tail / 2**n)


def binomial_upper_tail(flagged: int, trials: int, rate: float) -> float:
    """P(X >= `flagged`) for X ~ Binomial(`trials`, `rate`): the exact one-sided p-value."""
    if not 0 <= flagged <= trials:
        raise ShapeError(
            f"binomial_upper_tail needs 0 <= flagged <= trials, got {flagged}, {trials}"
        )
    if not 0.0 <= rate <= 1.0:
        raise ShapeError(f"binomial_upper_tail needs a rate in [0, 1], got {rate}")
    if flagged == 0:
        return 1.0
    terms = (
        math.comb(trials, i) * rate**i * (1.0 - rate) ** (trials - i)
        for i in range(flagged, trials + 1)
    )
    return min(1.0, float(sum(terms)))
