"""Honest statistics for trend summaries (standard library only).

Why this module exists: leadership summaries must not call noise a trend. Every comparison here
comes with a 95% interval, and a change is only called "up" or "down" when that interval excludes
zero and both periods have enough answers.

Aggregation happens in SQL, so everything takes *sufficient statistics* (counts, sums, sums of
squares) rather than raw answers. numpy/scipy are test-only dependencies: the runtime uses only
``math`` and ``statistics`` so the bot stays small and the formulas stay auditable.

Conventions
-----------
* ``diff_*(a, b)`` estimates ``a - b``: pass the *later* period first, so "up" means it rose.
* Intervals are two-sided at ``confidence`` (default 0.95).
* Answers are assumed independent. Repeat respondents across pooled periods and several items
  answered by the same person (theme scores) make that only approximately true; the intervals are
  an honest guide, not an exact guarantee.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Literal

from questions.scales import Scale

__all__ = [
    "BASELINE_PERIODS",
    "Change",
    "Diff",
    "Headline",
    "Interval",
    "MIN_N",
    "Mean",
    "Proportion",
    "Z95",
    "classify_change",
    "diff_means",
    "diff_proportions",
    "headline_label",
    "mean_to_0_100",
    "pool_means",
    "t_ppf",
    "wilson",
    "z_for",
]

#: Standard normal 97.5% quantile, i.e. the z of a two-sided 95% interval.
Z95 = 1.959963984540054
#: Fewer answers than this in either period and we say "too few answers to tell".
MIN_N = 10
#: How many previous periods make up the baseline.
BASELINE_PERIODS = 6

Change = Literal["up", "down", "no clear change", "too few answers to tell"]
Headline = Literal["Rising", "Stable", "Falling", "Too few answers to tell"]


# --------------------------------------------------------------------------- result types


@dataclass(frozen=True, slots=True)
class Interval:
    """A confidence interval ``[lo, hi]``."""

    lo: float
    hi: float


@dataclass(frozen=True, slots=True)
class Diff:
    """Estimated difference ``a - b`` with its confidence interval."""

    estimate: float
    lo: float
    hi: float

    @property
    def excludes_zero(self) -> bool:
        """True when the interval lies wholly above or below zero (a clear change)."""
        return self.lo > 0.0 or self.hi < 0.0


# --------------------------------------------------------------------------- quantiles


def z_for(confidence: float = 0.95) -> float:
    """Two-sided normal critical value for ``confidence`` (0.95 -> 1.96)."""
    _check_confidence(confidence)
    if confidence == 0.95:
        return Z95  # the exact double scipy uses; NormalDist differs in the last bit
    return NormalDist().inv_cdf(0.5 + confidence / 2.0)


def _check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1, not {confidence!r}")


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction for the incomplete beta (modified Lentz), valid for x < (a+1)/(a+b+2)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c = 1.0
    d = 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 100_000):
        m2 = 2 * m
        # even step
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        # odd step
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            return h
    raise ArithmeticError("incomplete beta continued fraction did not converge")  # pragma: no cover


def _betainc(a: float, b: float, x: float, y: float) -> float:
    """Regularised incomplete beta I_x(a, b); ``y`` is 1 - x, passed in to keep its precision."""
    if x <= 0.0:
        return 0.0
    if y <= 0.0:
        return 1.0
    log_front = (
        a * math.log(x) + b * math.log(y) - (math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b))
    )
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _betacf(a, b, x) / a
    return 1.0 - math.exp(log_front) * _betacf(b, a, y) / b


def _t_upper_tail(t: float, df: float) -> float:
    """P(T > t) for t >= 0, via P(T > t) = I_{df/(df+t^2)}(df/2, 1/2) / 2."""
    t2 = t * t
    return 0.5 * _betainc(df / 2.0, 0.5, df / (df + t2), t2 / (df + t2))


def _t_log_pdf(t: float, df: float) -> float:
    return (
        math.lgamma((df + 1.0) / 2.0)
        - math.lgamma(df / 2.0)
        - 0.5 * math.log(df * math.pi)
        - (df + 1.0) / 2.0 * math.log1p(t * t / df)
    )


def t_ppf(p: float, df: float) -> float:
    """Student-t quantile (inverse CDF); agrees with ``scipy.stats.t.ppf`` to ~1e-11 for df <= 1000.

    Why hand-rolled: the runtime is stdlib-only. The CDF comes from the regularised incomplete
    beta (continued fraction); we invert it by safeguarded Newton steps on the log upper tail,
    which stays well-behaved even for df = 1 where the tails are very heavy. ``df`` may be
    fractional (Welch-Satterthwaite).
    """
    if not 0.0 < p < 1.0:
        raise ValueError(f"p must be strictly between 0 and 1, not {p!r}")
    if not df > 0.0:
        raise ValueError(f"degrees of freedom must be positive, not {df!r}")
    if p == 0.5:
        return 0.0
    q = p if p < 0.5 else 1.0 - p  # the tail probability beyond |t|
    sign = -1.0 if p < 0.5 else 1.0
    if df > 1e7:  # indistinguishable from the normal at double precision for our purposes
        return sign * NormalDist().inv_cdf(1.0 - q)
    return sign * _solve_upper_tail(q, df)


def _solve_upper_tail(q: float, df: float) -> float:
    """Find t > 0 with P(T > t) = q (0 < q < 1/2)."""
    z = NormalDist().inv_cdf(1.0 - q)
    # Cornish-Fisher start: close for moderate df, and the bracket below rescues the rest.
    guess = z + (z**3 + z) / (4.0 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96.0 * df * df)
    lo, hi = 0.0, max(guess, 1e-8)
    while _t_upper_tail(hi, df) > q:
        lo, hi = hi, hi * 2.0
        if math.isinf(hi):  # pragma: no cover - needs q far below double precision
            raise ArithmeticError("t quantile out of range")
    log_q = math.log(q)
    t = min(max(guess, lo), hi)
    for _ in range(300):
        tail = _t_upper_tail(t, df)
        g = math.log(tail) - log_q  # decreasing in t
        if g > 0:
            lo = t
        else:
            hi = t
        # d/dt log tail = -pdf / tail
        slope = -math.exp(_t_log_pdf(t, df)) / tail
        step = -g / slope
        new = t + step
        if not lo < new < hi:
            new = 0.5 * (lo + hi)
        if abs(new - t) <= 1e-14 * max(1.0, t) or hi - lo <= 1e-15 * max(1.0, hi):
            return new
        t = new
    return t  # pragma: no cover - converges in a handful of steps in practice


# --------------------------------------------------------------------------- proportions


def wilson(successes: int, n: int, z: float = Z95) -> Interval:
    """Wilson score interval for a proportion.

    Why Wilson: unlike the textbook p +/- z*se it never leaves [0, 1] and behaves at 0% and
    100%, which matter with small departments. ``n == 0`` raises ValueError: there is no
    interval for no answers, and a silent ``None`` would be easy to print as "0%".
    """
    _check_counts(successes, n)
    if n == 0:
        raise ValueError("no Wilson interval for n = 0 (no answers)")
    p = successes / n
    z2 = z * z
    denom = 1.0 + z2 / n
    centre = (p + z2 / (2.0 * n)) / denom
    half = z / denom * math.sqrt(p * (1.0 - p) / n + z2 / (4.0 * n * n))
    lo = 0.0 if successes == 0 else max(0.0, centre - half)
    hi = 1.0 if successes == n else min(1.0, centre + half)
    return Interval(lo, hi)


def _check_counts(successes: int, n: int) -> None:
    if n < 0 or successes < 0 or successes > n:
        raise ValueError(f"need 0 <= successes <= n, got successes={successes}, n={n}")


@dataclass(frozen=True, slots=True)
class Proportion:
    """A share of answers, e.g. % favourable or % yes: ``successes`` out of ``n``."""

    successes: int
    n: int

    def __post_init__(self) -> None:
        _check_counts(self.successes, self.n)

    @property
    def estimate(self) -> float | None:
        """The observed share (0..1), or None when nobody answered."""
        return self.successes / self.n if self.n else None

    def ci(self, confidence: float = 0.95) -> Interval | None:
        """Wilson interval, or None when ``n == 0`` (reporting layers show "no answers")."""
        if self.n == 0:
            return None
        return wilson(self.successes, self.n, z_for(confidence))

    def as_mean_0_100(self) -> Mean:
        """The same answers as 0/100 scores, so a % can join other items on the 0-100 scale."""
        return Mean(self.n, 100.0 * self.successes, 10_000.0 * self.successes)

    def __add__(self, other: Proportion) -> Proportion:
        return Proportion(self.successes + other.successes, self.n + other.n)


def diff_proportions(a: Proportion, b: Proportion, confidence: float = 0.95) -> Diff:
    """Difference ``a - b`` with Newcombe's hybrid score interval (his method 10, 1998).

    Why: it is built from the two Wilson intervals, so it inherits their good behaviour near
    0%/100% and at small n, where the Wald difference interval is badly anti-conservative.
    Raises ValueError if either side has no answers.
    """
    if a.n == 0 or b.n == 0:
        raise ValueError("cannot compare a period with no answers")
    z = z_for(confidence)
    p1, p2 = a.successes / a.n, b.successes / b.n
    i1, i2 = wilson(a.successes, a.n, z), wilson(b.successes, b.n, z)
    d = p1 - p2
    lo = d - math.hypot(p1 - i1.lo, i2.hi - p2)
    hi = d + math.hypot(i1.hi - p1, p2 - i2.lo)
    return Diff(d, lo, hi)


# --------------------------------------------------------------------------- means


@dataclass(frozen=True, slots=True)
class Mean:
    """A mean score from SQL aggregates: ``n``, ``total`` = sum(x), ``total_sq`` = sum(x^2)."""

    n: int
    total: float
    total_sq: float

    def __post_init__(self) -> None:
        if self.n < 0:
            raise ValueError(f"n must be >= 0, got {self.n}")
        if self.n == 0 and (self.total != 0 or self.total_sq != 0):
            raise ValueError("sums must be 0 when n is 0")
        if self.total_sq < 0:
            raise ValueError("sum of squares cannot be negative")

    @property
    def estimate(self) -> float | None:
        """The mean, or None when nobody answered."""
        return self.total / self.n if self.n else None

    @property
    def variance(self) -> float | None:
        """Sample variance (n - 1 denominator), or None for n < 2.

        Computed from sums, so clamp the rounding error that can push it just below zero.
        """
        if self.n < 2:
            return None
        return max(0.0, (self.total_sq - self.total * self.total / self.n) / (self.n - 1))

    def ci(self, confidence: float = 0.95) -> Interval | None:
        """Student-t interval, or None for n < 2 (one answer says nothing about spread)."""
        var = self.variance
        if var is None:
            return None
        mean = self.total / self.n
        half = t_ppf(0.5 + confidence / 2.0, self.n - 1) * math.sqrt(var / self.n)
        return Interval(mean - half, mean + half)

    def transformed(self, scale: float, shift: float) -> Mean:
        """Sufficient statistics of ``scale * x + shift`` (rescaling, reverse scoring) exactly."""
        return Mean(
            self.n,
            scale * self.total + shift * self.n,
            scale * scale * self.total_sq + 2.0 * scale * shift * self.total + shift**2 * self.n,
        )

    def __add__(self, other: Mean) -> Mean:
        return Mean(self.n + other.n, self.total + other.total, self.total_sq + other.total_sq)


def diff_means(a: Mean, b: Mean, confidence: float = 0.95) -> Diff:
    """Difference of means ``a - b`` with Welch's interval (Welch-Satterthwaite df).

    Why Welch: the spread of answers changes between periods and between departments, and
    Welch does not assume equal variances. Needs n >= 2 on both sides (ValueError otherwise).
    If both samples have zero spread the interval collapses to the point difference.
    """
    _check_confidence(confidence)
    d, se2, df = _welch(a, b)
    if se2 == 0.0:
        return Diff(d, d, d)
    half = t_ppf(0.5 + confidence / 2.0, df) * math.sqrt(se2)
    return Diff(d, d - half, d + half)


def _welch(a: Mean, b: Mean) -> tuple[float, float, float]:
    """(difference, its squared standard error, Welch-Satterthwaite df); df is 0 when the
    squared standard error is. One place, so the interval and the p-value always agree."""
    va, vb = a.variance, b.variance
    if va is None or vb is None:
        raise ValueError("each period needs at least 2 answers for a difference of means")
    d = a.total / a.n - b.total / b.n
    sa, sb = va / a.n, vb / b.n
    se2 = sa + sb
    if se2 == 0.0:
        return d, 0.0, 0.0
    return d, se2, se2 * se2 / (sa * sa / (a.n - 1) + sb * sb / (b.n - 1))


def pool_means(items: Iterable[Mean]) -> Mean:
    """Pool several periods by summing n, sum and sum of squares (answer-weighted)."""
    n, total, total_sq = 0, 0.0, 0.0
    for item in items:
        n += item.n
        total += item.total
        total_sq += item.total_sq
    return Mean(n, total, total_sq)


# --------------------------------------------------------------------------- verdicts


def classify_change(diff: Diff | None, n_a: int, n_b: int, min_n: int = MIN_N) -> Change:
    """Say in words what a difference shows.

    "up"/"down" only when the interval of ``diff`` excludes zero (so at the interval's level,
    95% by default); with fewer than ``min_n`` answers in either period we refuse to judge,
    because tiny samples give either huge intervals or flukes. ``diff`` may be None when it
    could not be computed (e.g. no answers).
    """
    if n_a < min_n or n_b < min_n or diff is None:
        return "too few answers to tell"
    if diff.lo > 0.0:
        return "up"
    if diff.hi < 0.0:
        return "down"
    return "no clear change"


_HEADLINES: dict[str, Headline] = {
    "up": "Rising",
    "down": "Falling",
    "no clear change": "Stable",
    "too few answers to tell": "Too few answers to tell",
}


def headline_label(change: Change) -> Headline:
    """Headline word for a change. "Stable" means "no clear change", not proof of none."""
    try:
        return _HEADLINES[change]
    except KeyError:
        raise ValueError(f"unknown change {change!r}") from None


# --------------------------------------------------------------------------- scales


def mean_to_0_100(kind: Scale, raw: Mean, reverse: bool = False) -> Mean:
    """Turn SQL aggregates of raw answers into aggregates on the 0-100 scale.

    The maps are linear, so sums transform exactly and SQL can aggregate raw values.
    ``reverse`` applies ``6 - v`` first (agree5 only). For yes_no_unsure aggregate counts
    into a ``Proportion`` and use ``Proportion.as_mean_0_100`` instead.
    """
    if kind == "agree5":
        m = raw.transformed(-1.0, 6.0) if reverse else raw
        return m.transformed(25.0, -25.0)
    if reverse:
        raise ValueError("only agree5 items are reverse-scored")
    if kind == "scale0_10":
        return raw.transformed(10.0, 0.0)
    raise ValueError(f"use Proportion.as_mean_0_100 for {kind!r}")


# --------------------------------------------------------------------------- many tests at once


def p_diff_means(a: Mean, b: Mean) -> float:
    """Two-sided p-value of Welch's test of ``a - b = 0``: the same statistic and degrees of
    freedom as ``diff_means``, so p < 0.05 exactly when its 95% interval excludes zero."""
    d, se2, df = _welch(a, b)
    if se2 == 0.0:
        return 1.0 if d == 0.0 else 0.0
    return min(1.0, 2.0 * _t_upper_tail(abs(d) / math.sqrt(se2), df))


def p_diff_proportions(a: Proportion, b: Proportion) -> float:
    """Two-sided p-value that matches Newcombe's interval: the smallest 1 - confidence at which
    ``diff_proportions`` excludes zero (found by bisection; the interval narrows as the
    confidence falls). So p < 0.05 exactly when the 95% interval excludes zero."""
    if a.n == 0 or b.n == 0:
        raise ValueError("cannot compare a period with no answers")
    if a.successes * b.n == b.successes * a.n:
        return 1.0
    lo, hi = 1e-12, 1.0 - 1e-12  # confidence levels: excludes zero at lo, maybe not at hi
    if diff_proportions(a, b, hi).excludes_zero:
        return 1e-12
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if diff_proportions(a, b, mid).excludes_zero:
            lo = mid
        else:
            hi = mid
    return 1.0 - 0.5 * (lo + hi)


def benjamini_hochberg(p_values: Sequence[float], q: float = 0.05) -> list[bool]:
    """Which of many tests are discoveries at false discovery rate ``q`` (Benjamini-Hochberg
    step-up): sort the p-values, find the largest rank i with p_(i) <= i q / m, and reject
    the i smallest. Controls the expected share of false discoveries among the claims made,
    whatever the number of tests, for independent or positively dependent tests."""
    if not 0.0 < q < 1.0:
        raise ValueError(f"q must be between 0 and 1, not {q!r}")
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    cut = 0
    for rank, i in enumerate(order, start=1):
        if p_values[i] <= rank * q / m:
            cut = rank
    keep = set(order[:cut])
    return [i in keep for i in range(m)]


def within_trend(groups: Sequence[Sequence[tuple[float, float, float]]]) -> tuple[float, float]:
    """Common linear trend of several series, each compared only with itself: (slope, its
    standard error). Each series is ``(x, y, variance of y)`` points; the slope is the weighted
    least-squares slope within series (each series centred on its own weighted means, weights
    1 / variance), so a mix of series that changes from one x to the next moves nothing.

    Why: a theme is asked through different items in different pulses; comparing one pulse's
    items with another's would mistake a change of items for a change of opinion. Within-item
    slopes compare like with like, and use every pulse, not just two windows.
    """
    sxy = sxx = 0.0
    for points in groups:
        pts = [(x, y, 1.0 / v) for x, y, v in points if v > 0]
        if len(pts) < 2:
            continue
        w = sum(p[2] for p in pts)
        mx = sum(x * wi for x, _, wi in pts) / w
        my = sum(y * wi for _, y, wi in pts) / w
        sxy += sum(wi * (x - mx) * (y - my) for x, y, wi in pts)
        sxx += sum(wi * (x - mx) ** 2 for x, _, wi in pts)
    if sxx == 0.0:
        raise ValueError("no series with two points to fit a trend")
    return sxy / sxx, 1.0 / math.sqrt(sxx)


def p_normal(z: float) -> float:
    """Two-sided p-value of a standard normal statistic."""
    return 2.0 * (1.0 - NormalDist().cdf(abs(z)))
