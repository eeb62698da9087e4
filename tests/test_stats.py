"""Tests for bot.insights.stats: hand-worked examples, published values, and scipy as the oracle.

scipy is a test-only dependency; the module under test uses only the standard library.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from bot.insights.stats import (
    Z95,
    Diff,
    Interval,
    Mean,
    Proportion,
    classify_change,
    diff_means,
    diff_proportions,
    headline_label,
    mean_to_0_100,
    pool_means,
    t_ppf,
    wilson,
    z_for,
)


def mean_of(values: list[float]) -> Mean:
    """A Mean from raw values, as SQL would aggregate them."""
    return Mean(len(values), float(sum(values)), float(sum(x * x for x in values)))


# ----------------------------------------------------------------------------- Wilson


def test_wilson_hand_worked_81_of_263() -> None:
    # p = 81/263 = 0.307985, z = 1.959964, z^2 = 3.841459, z^2/n = 0.014606
    # centre = (p + z^2/2n) / (1 + z^2/n) = 0.315288 / 1.014606 = 0.310749
    # half   = z / (1 + z^2/n) * sqrt(p(1-p)/n + z^2/4n^2)
    #        = 1.931748 * sqrt(0.00081038 + 0.00001388) = 1.931748 * 0.028710 = 0.055460
    # interval = 0.310749 -/+ 0.055460 = (0.255289, 0.366209)
    ci = wilson(81, 263)
    assert ci.lo == pytest.approx(0.255289, abs=1e-6)
    assert ci.hi == pytest.approx(0.366209, abs=1e-6)
    assert ci.lo <= 81 / 263 <= ci.hi


def test_wilson_edges_stay_inside_0_1() -> None:
    # At 0/n and n/n the Wald interval collapses to a point; Wilson does not.
    assert wilson(0, 10).lo == 0.0 and wilson(0, 10).hi > 0.2
    assert wilson(10, 10).hi == 1.0 and wilson(10, 10).lo < 0.8
    # 0 of 1: centre = (z^2/2)/(1+z^2) and half equals it, so (0, z^2/(1+z^2)) = (0, 0.7934)
    assert wilson(0, 1).hi == pytest.approx(Z95**2 / (1 + Z95**2))


def test_wilson_refuses_no_answers_and_bad_counts() -> None:
    with pytest.raises(ValueError):
        wilson(0, 0)
    with pytest.raises(ValueError):
        wilson(5, 4)
    with pytest.raises(ValueError):
        wilson(-1, 4)
    assert Proportion(0, 0).ci() is None
    assert Proportion(0, 0).estimate is None


@given(st.integers(1, 5000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_wilson_matches_scipy(kn: tuple[int, int]) -> None:
    k, n = kn
    ours = wilson(k, n)
    ref = sps.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    assert ours.lo == pytest.approx(ref.low, abs=1e-12)
    assert ours.hi == pytest.approx(ref.high, abs=1e-12)


@given(
    st.integers(1, 2000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))),
    st.sampled_from([0.8, 0.9, 0.95, 0.99]),
)
def test_proportion_ci_at_other_levels_matches_scipy(kn: tuple[int, int], level: float) -> None:
    ours = Proportion(*kn).ci(level)
    ref = sps.binomtest(*kn).proportion_ci(confidence_level=level, method="wilson")
    assert ours is not None
    assert (ours.lo, ours.hi) == pytest.approx((ref.low, ref.high), abs=1e-12)


# ----------------------------------------------------------------------------- t quantile


@pytest.mark.parametrize("p", [0.0005, 0.005, 0.025, 0.05, 0.2, 0.6, 0.9, 0.975, 0.995, 0.9995])
def test_t_ppf_matches_scipy_for_every_df_1_to_1000(p: float) -> None:
    dfs = np.arange(1, 1001)
    ref = sps.t.ppf(p, dfs)
    ours = np.array([t_ppf(p, int(df)) for df in dfs])
    assert np.max(np.abs(ours - ref) / np.maximum(1.0, np.abs(ref))) < 1e-9


@settings(max_examples=300)
@given(
    st.floats(1e-9, 1 - 1e-9).filter(lambda p: p != 0.5),
    st.floats(0.5, 5000.0),
)
def test_t_ppf_matches_scipy_for_fractional_df(p: float, df: float) -> None:
    # Welch-Satterthwaite produces fractional df, and extreme p exercises the heavy tails.
    ref = float(sps.t.ppf(p, df))
    assert t_ppf(p, df) == pytest.approx(ref, rel=1e-8, abs=1e-9)


def test_t_ppf_known_values_and_errors() -> None:
    assert t_ppf(0.975, 1) == pytest.approx(12.706204736, abs=1e-8)  # tan(0.475 pi)
    assert t_ppf(0.975, 10) == pytest.approx(2.228138852, abs=1e-8)  # every t table
    assert t_ppf(0.5, 3) == 0.0
    assert t_ppf(0.025, 7) == pytest.approx(-t_ppf(0.975, 7))
    for bad in [(0.0, 5), (1.0, 5), (0.5, 0), (0.9, -1)]:
        with pytest.raises(ValueError):
            t_ppf(*bad)


# ----------------------------------------------------------------------------- means

scores = st.lists(st.integers(0, 100), min_size=2, max_size=200)


def test_mean_from_sufficient_statistics() -> None:
    m = mean_of([3, 4, 5])  # n = 3, sum = 12, sum of squares = 50
    assert (m.n, m.total, m.total_sq) == (3, 12.0, 50.0)
    assert m.estimate == 4.0
    assert m.variance == pytest.approx(1.0)  # (50 - 144/3) / 2
    ci = m.ci()
    # 4 -/+ t(0.975, 2) * sqrt(1/3) = 4 -/+ 4.302653 * 0.577350 = 4 -/+ 2.484138
    assert ci is not None
    assert (ci.lo, ci.hi) == pytest.approx((1.515862, 6.484138), abs=1e-6)


def test_mean_needs_two_answers_for_an_interval() -> None:
    assert Mean(0, 0, 0).estimate is None and Mean(0, 0, 0).ci() is None
    assert mean_of([4]).estimate == 4 and mean_of([4]).ci() is None
    with pytest.raises(ValueError):
        Mean(-1, 0, 0)
    with pytest.raises(ValueError):
        Mean(0, 3, 9)


@given(scores)
def test_mean_ci_matches_scipy(values: list[int]) -> None:
    ours = mean_of(values).ci()
    assert ours is not None
    if np.var(values) == 0:
        assert ours.lo == pytest.approx(ours.hi)
        return
    ref = sps.ttest_1samp(values, 0).confidence_interval(0.95)
    assert (ours.lo, ours.hi) == pytest.approx((ref.low, ref.high), rel=1e-9, abs=1e-9)


@pytest.mark.filterwarnings("ignore:Precision loss occurred:RuntimeWarning")
@settings(max_examples=200)
@given(scores, scores)
def test_diff_means_matches_scipy_welch(a: list[int], b: list[int]) -> None:
    if np.var(a) == 0 and np.var(b) == 0:
        d = diff_means(mean_of(a), mean_of(b))
        assert d.lo == d.hi == pytest.approx(np.mean(a) - np.mean(b))
        return
    ours = diff_means(mean_of(a), mean_of(b))
    res = sps.ttest_ind(a, b, equal_var=False)
    ref = res.confidence_interval(0.95)
    assert ours.estimate == pytest.approx(np.mean(a) - np.mean(b), abs=1e-9)
    assert (ours.lo, ours.hi) == pytest.approx((ref.low, ref.high), rel=1e-8, abs=1e-8)


def test_diff_means_needs_two_answers_each() -> None:
    with pytest.raises(ValueError):
        diff_means(mean_of([1]), mean_of([1, 2, 3]))


# ----------------------------------------------------------------------------- Newcombe


@pytest.mark.parametrize(
    ("a", "b", "lo", "hi"),
    [
        # Newcombe (1998) Stat Med 17:873, Table II, method 10 (hybrid score)
        ((56, 70), (48, 80), 0.0524, 0.3339),
        ((9, 10), (3, 10), 0.1705, 0.8090),
        ((6, 7), (2, 7), 0.0582, 0.8062),
        ((5, 56), (0, 29), -0.0381, 0.1926),
        ((0, 10), (0, 20), -0.1611, 0.2775),
        ((0, 10), (0, 10), -0.2775, 0.2775),
        ((10, 10), (0, 20), 0.6791, 1.0000),
        ((10, 10), (0, 10), 0.6075, 1.0000),
    ],
)
def test_newcombe_published_examples(
    a: tuple[int, int], b: tuple[int, int], lo: float, hi: float
) -> None:
    d = diff_proportions(Proportion(*a), Proportion(*b))
    assert d.estimate == pytest.approx(a[0] / a[1] - b[0] / b[1])
    assert (d.lo, d.hi) == pytest.approx((lo, hi), abs=5e-5)


counts = st.integers(1, 400).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n)))


@given(counts, counts)
def test_newcombe_equals_its_textbook_form_built_from_scipy_wilson(
    a: tuple[int, int], b: tuple[int, int]
) -> None:
    # Newcombe's own statement: L = d - z*sqrt(l1(1-l1)/n1 + u2(1-u2)/n2), and symmetrically.
    # Our code uses the equivalent sqrt((p1-l1)^2 + (u2-p2)^2) form; check one against the other
    # with scipy supplying the Wilson limits.
    (x1, n1), (x2, n2) = a, b
    w1 = sps.binomtest(x1, n1).proportion_ci(method="wilson")
    w2 = sps.binomtest(x2, n2).proportion_ci(method="wilson")
    d = x1 / n1 - x2 / n2
    lo = d - Z95 * math.sqrt(w1.low * (1 - w1.low) / n1 + w2.high * (1 - w2.high) / n2)
    hi = d + Z95 * math.sqrt(w1.high * (1 - w1.high) / n1 + w2.low * (1 - w2.low) / n2)
    ours = diff_proportions(Proportion(*a), Proportion(*b))
    assert (ours.lo, ours.hi) == pytest.approx((lo, hi), abs=1e-9)
    assert -1.0 <= ours.lo <= ours.estimate <= ours.hi <= 1.0


def _exact_coverage(n1: int, p1: float, n2: int, p2: float) -> tuple[float, float]:
    """Exact coverage of diff_proportions and the rate of false 'up'/'down' calls."""
    pm1, pm2 = sps.binom.pmf(range(n1 + 1), n1, p1), sps.binom.pmf(range(n2 + 1), n2, p2)
    covered = flagged = 0.0
    for x1 in range(n1 + 1):
        for x2 in range(n2 + 1):
            d = diff_proportions(Proportion(x1, n1), Proportion(x2, n2))
            w = pm1[x1] * pm2[x2]
            covered += w * (d.lo <= p1 - p2 <= d.hi)
            flagged += w * d.excludes_zero
    return covered, flagged


@pytest.mark.parametrize(("n1", "n2", "p"), [(12, 15, 0.5), (30, 60, 0.7), (20, 20, 0.9)])
def test_noise_rarely_flagged_as_change(n1: int, n2: int, p: float) -> None:
    # Same true rate in both periods: the interval should cover 0 about 95% of the time,
    # i.e. a false "up"/"down" at most about 5% (computed exactly, no simulation noise).
    covered, flagged = _exact_coverage(n1, p, n2, p)
    assert covered > 0.94
    assert flagged < 0.06


# ----------------------------------------------------------------------------- verdicts


def test_classify_change_cases() -> None:
    # noise: 60% vs 58% favourable with 50 answers each
    noise = diff_proportions(Proportion(30, 50), Proportion(29, 50))
    assert classify_change(noise, 50, 50) == "no clear change"
    # clear shift: 80% vs 40% with 50 answers each
    rise = diff_proportions(Proportion(40, 50), Proportion(20, 50))
    assert classify_change(rise, 50, 50) == "up"
    fall = diff_proportions(Proportion(20, 50), Proportion(40, 50))
    assert classify_change(fall, 50, 50) == "down"
    # same clear-looking shift, but only 8 answers in the latest period
    small = diff_proportions(Proportion(8, 8), Proportion(20, 50))
    assert classify_change(small, 8, 50) == "too few answers to tell"
    assert classify_change(small, 8, 50, min_n=5) == "up"
    assert classify_change(None, 50, 50) == "too few answers to tell"
    # boundary: exactly min_n answers is enough to judge
    assert classify_change(Diff(0.3, 0.1, 0.5), 10, 10) == "up"
    assert classify_change(Diff(0.3, 0.0, 0.5), 10, 10) == "no clear change"  # touches zero


def test_classify_change_on_means() -> None:
    rng = np.random.default_rng(7)
    base = rng.normal(60, 15, 200).clip(0, 100)
    same = rng.normal(60, 15, 40).clip(0, 100)
    lower = rng.normal(45, 15, 40).clip(0, 100)
    assert classify_change(diff_means(mean_of(same), mean_of(base)), 40, 200) == "no clear change"
    assert classify_change(diff_means(mean_of(lower), mean_of(base)), 40, 200) == "down"


def test_headline_labels() -> None:
    assert headline_label("up") == "Rising"
    assert headline_label("down") == "Falling"
    assert headline_label("no clear change") == "Stable"
    assert headline_label("too few answers to tell") == "Too few answers to tell"
    with pytest.raises(ValueError):
        headline_label("sideways")  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- pooling


def test_pooling_sums_sufficient_statistics() -> None:
    a, b = [1, 2, 3], [4, 5]
    pooled = pool_means([mean_of(a), mean_of(b)])
    assert pooled == mean_of(a + b)
    assert pool_means([]).n == 0


# ----------------------------------------------------------------------------- scales


@given(st.lists(st.integers(1, 5), min_size=1, max_size=50), st.booleans())
def test_mean_to_0_100_agree5_matches_mapping_each_answer(values: list[int], rev: bool) -> None:
    mapped = [((6 - v if rev else v) - 1) * 25 for v in values]  # 1 -> 0 .. 5 -> 100
    got = mean_to_0_100("agree5", mean_of(values), reverse=rev)
    want = mean_of(mapped)
    assert got.n == want.n
    assert got.total == pytest.approx(want.total)
    assert got.total_sq == pytest.approx(want.total_sq)


def test_theme_score_combines_item_types_on_one_scale() -> None:
    agree = mean_to_0_100("agree5", mean_of([4, 5, 3]))  # 75, 100, 50
    tens = mean_to_0_100("scale0_10", mean_of([8, 6]))  # 80, 60
    yes = Proportion(1, 2).as_mean_0_100()  # 100, 0
    theme = pool_means([agree, tens, yes])
    assert theme.estimate == pytest.approx((75 + 100 + 50 + 80 + 60 + 100 + 0) / 7)
    with pytest.raises(ValueError):
        mean_to_0_100("scale0_10", mean_of([1]), reverse=True)
    with pytest.raises(ValueError):
        mean_to_0_100("yes_no_unsure", mean_of([1]))


def test_z_for_levels() -> None:
    assert z_for(0.95) == Z95
    assert z_for(0.9) == pytest.approx(1.644853627)
    with pytest.raises(ValueError):
        z_for(1.0)
    assert isinstance(wilson(1, 2), Interval)
