"""The summary as a list of claims, each with its evidence: nothing else is stated.

Why: medical directors act on what the summary says, so every sentence must be a finding its
evidence supports, and say how sure it is. A claim is a change, a strength, a concern, a
hard-to-reach department (or one too small to report) or the participation figure; text, Block
Kit and the chart render these claims and nothing else (status lines such as "first pulse:
nothing to compare yet" are not findings).

The rules (one place for each):
* **Changes.** The headline, each theme and each item is tested two ways: its trend over the
  pulses (``within_trend``: weighted least squares within each item, so a theme asked through
  different items in different pulses compares like with like), and its recent pulses (the
  latest, or up to the last 3) against up to the 6 before (``windows``; a theme pools only items
  asked on both sides). Only figures shown themselves (n >= k) enter. Benjamini-Hochberg holds
  the false discovery rate at 5% over every test of the summary together, and a change is named
  only when it also reaches the minimum meaningful size (5 points on 0-100 or on a %, 0.5 on
  0-10); one claim per subject, from its test with the smallest p-value. An item needs 30
  answers a side for the recent-against-earlier comparison.
  BH rather than partial pooling: it needs no model of how items relate to their theme (a
  falling item in a steady theme is exactly what should not be shrunk away), works on the sums
  SQL gives us, and its guarantee (the expected share of false claims) is what a reader needs.
* **Strengths and concerns** pool each item's shown figures over the pulses of the last quarter
  (only periods where the item itself was shown, so nothing hidden is added in) and are named
  when the pooled % favourable is clear of neutral (50) after BH at 1% over all items, and is
  at least 60% (a strength) or at most 40% (a concern). An item that was on the other side in
  any summary of the same quarter is not named unless its change is itself a claim.
* **Hard to reach.** A department is named when its response rate is credibly at least 10 points
  below the rest of the trust's, or credibly at least 10 points below its own earlier pulses (BH
  over both tests of every department), with the reason in words. Its own earlier pulses are
  only those where the auditor published its figure (a pooled rate over a held-back pulse,
  less the published ones, would give the hidden count). A department with fewer than
  k responses is said to be too few to report; one hidden only to protect a smaller group is
  said to be held back, never given a count it does not have.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from statistics import NormalDist

from bot.insights import stats
from storage.queries import ItemStats, Participation, VersionInfo

FDR = 0.05  # changes: the expected share of false ones among those named
STANDING_FDR = 0.01  # strengths and concerns: many are true at once, so hold false ones rarer
ITEM_MIN_N = 30  # answers on each side before one item's change is judged
QUARTER = timedelta(days=91)
MEANINGFUL_0_100 = 5.0  # points on 0-100 or on a percentage
MEANINGFUL_0_10 = 0.5
RATE_GAP = 10.0  # percentage points below the rest of the trust, or below its own past
STRENGTH_FROM, CONCERN_UPTO, NEUTRAL = 60.0, 40.0, 50.0
RANK_MIN_N = 10

PerRound = dict[int, dict[int, ItemStats]]


@dataclass(frozen=True)
class Evidence:
    """What a claim rests on, in the claim's own unit."""

    estimate: float  # the change, or the figure (a %, a 0-10 mean, a 0-100 score)
    interval: tuple[float, float] | None  # 95%, clipped to the scale
    n: int  # answers (or doctors) behind the estimate
    unit: str  # "points", "/10", "% favourable", "% answered"
    test: str  # what decided it, in words
    periods: int  # pulses the figure rests on
    now: float | None = None  # for a comparison: the two sides
    before: float | None = None
    n_before: int | None = None
    p: float | None = None
    periods_before: int = 0  # pulses pooled on the earlier side of a comparison


@dataclass(frozen=True)
class Claim:
    kind: str  # "change", "strength", "concern", "hard_to_reach", "too_few", "participation"
    subject: str  # "headline", "theme:SLUG", "item:KEY", "department:NAME", "trust"
    direction: str | None  # "up"/"down"; "low"/"falling"/"low,falling" for hard to reach
    text: str
    evidence: Evidence


@dataclass
class Claims:
    """All claims of one summary, in reading order within each kind."""

    items: list[Claim] = field(default_factory=list)
    pulses: int = 0  # closed pulses the summary could look at
    tested: int = 0  # comparisons tested for changes
    held_back: list[str] = field(default_factory=list)  # departments hidden for protection

    def of(self, kind: str) -> list[Claim]:
        return [c for c in self.items if c.kind == kind]

    def about(self, subject: str, kind: str = "change") -> Claim | None:
        return next((c for c in self.items if c.subject == subject and c.kind == kind), None)


# --------------------------------------------------------------------------- comparisons


RECENT_MAX = 3  # pulses pooled on the "now" side of a comparison


def windows(available: int) -> tuple[int, int]:
    """How many pulses a comparison pools on each side, given the closed pulses available
    (newest first): the recent side is the latest pulse, or up to the last 3 once there are
    enough pulses for the earlier side to have as many; the earlier side is up to the 6 before.

    Why pool the recent side: a change that lasts is what a director can act on, and three
    pulses against six before it have the power to see one (answers per item per pulse are
    few: each doctor answers two or three questions), where the latest pulse alone would not.
    """
    if available < 2:
        return 1, 0
    recent = max(1, min(RECENT_MAX, available // 2))
    return recent, min(stats.BASELINE_PERIODS, available - recent)


@dataclass(frozen=True)
class _Test:
    subject: str
    label: str
    diff: stats.Diff  # in display units
    p: float
    now: float
    before: float
    n_now: int
    n_before: int
    recent: int  # pulses pooled on each side (a trend: the pulses it spans, and 0)
    earlier: int
    unit: str  # "points" (0-100 or %), "/10"
    trend: bool = False

    @property
    def meaningful(self) -> bool:
        size = MEANINGFUL_0_10 if self.unit == "/10" else MEANINGFUL_0_100
        return abs(self.diff.estimate) >= size - 1e-9


def _mean(st: ItemStats) -> stats.Mean:
    return stats.Mean(st.n, float(st.total), float(st.total_sq))


def favourable(info: VersionInfo, st: ItemStats) -> stats.Proportion:
    """Favourable answers; for a reverse-scored item disagreeing (or "no") is the good answer."""
    if info.scale == "yes_no_unsure" and info.reverse:
        return stats.Proportion(st.n - st.high, st.n)
    return stats.Proportion(st.low if info.reverse else st.high, st.n)


def pool(parts: list[ItemStats]) -> ItemStats | None:
    if not parts:
        return None
    return ItemStats(
        parts[0].round_id,
        parts[0].version_id,
        sum(p.n for p in parts),
        sum(p.total for p in parts),
        sum(p.total_sq for p in parts),
        sum(p.high for p in parts),
        sum(p.low for p in parts),
    )


def item_test(info: VersionInfo, now: ItemStats, before: ItemStats) -> tuple[stats.Diff, float]:
    """The change of one item in its display unit (points of %, or 0-10) and its p-value."""
    if info.scale == "scale0_10":
        a, b = _mean(now), _mean(before)
        return stats.diff_means(a, b), stats.p_diff_means(a, b)
    a, b = favourable(info, now), favourable(info, before)
    d = stats.diff_proportions(a, b)
    return stats.Diff(100 * d.estimate, 100 * d.lo, 100 * d.hi), stats.p_diff_proportions(a, b)


def _item_value(info: VersionInfo, st: ItemStats) -> float:
    if info.scale == "scale0_10":
        return st.total / st.n
    return 100 * favourable(info, st).estimate


def item_tests(
    subject: str, label: str, info: VersionInfo, series: list[ItemStats | None], min_n: int
) -> list[_Test]:
    """The item's recent pulses against the ones before (``series``: newest first, None where
    it was not asked or not shown)."""
    recent, earlier = windows(len(series))
    now = pool([st for st in series[:recent] if st is not None])
    before = pool([st for st in series[recent : recent + earlier] if st is not None])
    if now is None or before is None or now.n < min_n or before.n < min_n:
        return []
    try:
        diff, p = item_test(info, now, before)
    except ValueError:
        return []
    unit = "/10" if info.scale == "scale0_10" else "points"
    n_recent = sum(st is not None for st in series[:recent])
    n_earlier = sum(st is not None for st in series[recent : recent + earlier])
    return [
        _Test(
            subject, label, diff, p, _item_value(info, now), _item_value(info, before),
            now.n, before.n, n_recent, n_earlier, unit,
        )
    ]  # fmt: skip


def theme_tests(
    theme: str, label: str, series: list[dict[int, stats.Mean]], min_n: int
) -> list[_Test]:
    """A theme on 0-100, like with like: each side pools only items asked on both sides."""
    recent, earlier = windows(len(series))
    now_side, before_side = series[:recent], series[recent : recent + earlier]
    shared = {v for per in now_side for v in per} & {v for per in before_side for v in per}
    if not shared:
        return []
    a = stats.pool_means(m for per in now_side for v, m in per.items() if v in shared)
    b = stats.pool_means(m for per in before_side for v, m in per.items() if v in shared)
    if a.n < min_n or b.n < min_n:
        return []
    try:
        diff, p = stats.diff_means(a, b), stats.p_diff_means(a, b)
    except ValueError:
        return []
    n_recent = sum(bool(set(per) & shared) for per in now_side)
    n_earlier = sum(bool(set(per) & shared) for per in before_side)
    return [
        _Test(
            f"theme:{theme}", label, diff, p, a.estimate, b.estimate, a.n, b.n,
            n_recent, n_earlier, "points",
        )
    ]  # fmt: skip


TREND_MIN_PULSES = 4


def trend_test(
    subject: str, label: str, series: list[list[tuple[float, float, float, int]]], unit: str
) -> list[_Test]:
    """The common trend of one subject over the pulses (``series``: per item, points of
    (pulse index, figure, variance of the figure, n)), as the total change over the span."""
    xs = {x for points in series for x, *_ in points}
    if len(xs) < TREND_MIN_PULSES:
        return []
    try:
        slope, se = stats.within_trend([[(x, y, v) for x, y, v, _ in pts] for pts in series])
    except ValueError:
        return []
    span = max(xs) - min(xs)
    total = slope * span
    half = stats.Z95 * se * span
    n = sum(m for pts in series for *_, m in pts)
    return [
        _Test(
            subject, label, stats.Diff(total, total - half, total + half),
            stats.p_normal(slope / se), 0.0, 0.0, n, 0, int(span) + 1, 0, unit, trend=True,
        )
    ]  # fmt: skip


def change_claims(tests: list[_Test]) -> list[Claim]:
    """Benjamini-Hochberg over every test, then the minimum meaningful size; one claim per
    subject (its test with the smallest p-value), in the order the tests came (headline,
    themes, items)."""
    found = stats.benjamini_hochberg([t.p for t in tests], FDR) if tests else []
    best: dict[str, _Test] = {}
    for t, hit in zip(tests, found, strict=True):
        if hit and t.meaningful and (t.subject not in best or t.p < best[t.subject].p):
            best[t.subject] = t
    return [_change_claim(t, len(tests)) for t in best.values()]


def when(recent: int, earlier: int) -> str:
    """The comparison in words, with the real numbers of pulses."""
    if recent == 1 and earlier == 1:
        return "since the last pulse"
    if recent == 1:
        return f"on the average of the {earlier} pulses before"
    return f"over the last {recent} pulses, against the {earlier} before"


def _trend_claim(t: _Test, m: int) -> Claim:
    way = "up" if t.diff.estimate > 0 else "down"
    size = abs(t.diff.estimate)
    if t.unit == "/10":
        amount, step = f"{size:.1f} out of 10", f"{size / (t.recent - 1):.2f}"
    else:
        amount, step = f"about {size:.0f} points", f"{size / (t.recent - 1):.0f}"
    verb = "rising" if way == "up" else "falling"
    return Claim(
        "change",
        t.subject,
        way,
        f"{t.label}: {verb} over the last {t.recent} pulses, {way} {amount} in all "
        f"(about {step} a pulse)",
        Evidence(
            t.diff.estimate,
            (t.diff.lo, t.diff.hi),
            t.n_now,
            t.unit,
            f"trend within each question (weighted least squares); beyond noise with the false "
            f"discovery rate held at {FDR:.0%} over {m} comparisons",
            t.recent,
            p=t.p,
        ),
    )


def _change_claim(t: _Test, m: int) -> Claim:
    if t.trend:
        return _trend_claim(t, m)
    way = "up" if t.diff.estimate > 0 else "down"
    size = abs(t.diff.estimate)
    if t.unit == "/10":
        amount, sides = f"{size:.1f}", f"{t.before:.1f} → {t.now:.1f} out of 10"
    else:
        amount = f"{size:.0f} point{'s' * (round(size) != 1)}"
        unit = "%" if t.subject.startswith("item:") else "/100"
        sides = f"{t.before:.0f} → {t.now:.0f}{unit}"
    test = "Welch t-test" if t.unit == "/10" or t.subject.startswith("theme") else "Newcombe"
    return Claim(
        "change",
        t.subject,
        way,
        f"{t.label}: {way} {amount} {when(t.recent, t.earlier)} ({sides})",
        Evidence(
            t.diff.estimate,
            (t.diff.lo, t.diff.hi),
            t.n_now,
            t.unit,
            f"{test}; beyond noise with the false discovery rate held at {FDR:.0%} over "
            f"{m} comparisons",
            t.recent,
            t.now,
            t.before,
            t.n_before,
            t.p,
            t.earlier,
        ),
    )


# --------------------------------------------------------------------------- strengths, concerns


def _p_vs_neutral(info: VersionInfo, st: ItemStats) -> tuple[float, float, tuple | None]:
    """The pooled favourable figure on 0-100, its 95% interval, and the p-value of the test
    that it equals neutral (50): the score test for a % (the test the Wilson interval inverts),
    Student's t for a 0-10 mean (times 10)."""
    if info.scale == "scale0_10":
        m = _mean(st).transformed(10.0, 0.0)
        ci = m.ci()
        var = m.variance or 0.0
        if var == 0.0:
            return m.estimate, (m.estimate, m.estimate), 0.0 if m.estimate != NEUTRAL else 1.0
        t = abs(m.estimate - NEUTRAL) / (var / m.n) ** 0.5
        p = 2 * stats._t_upper_tail(t, m.n - 1)
        return m.estimate, (max(ci.lo, 0.0), min(ci.hi, 100.0)), p
    prop = favourable(info, st)
    ci = prop.ci()
    z = abs(prop.estimate - 0.5) / (0.25 / prop.n) ** 0.5
    p = 2 * (1 - NormalDist().cdf(z))
    return 100 * prop.estimate, (100 * ci.lo, 100 * ci.hi), p


def standing(
    per_round: PerRound, window: list[int], infos: dict[int, VersionInfo], k: int
) -> dict[int, tuple[str, ItemStats, float, tuple, float, int]]:
    """Items clearly a strength or a concern over ``window`` (round ids, newest first): version id
    -> (side, pooled stats, estimate, interval, p, periods). Only periods where the item's own
    figure was shown (n >= k) are pooled."""
    latest = per_round.get(window[0], {})
    cand = []
    for vid, st in latest.items():
        info = infos[vid]
        if info.headline or st.n < k:
            continue
        parts = [per_round[r][vid] for r in window if vid in per_round.get(r, {})]
        parts = [p for p in parts if p.n >= k]
        pooled = pool(parts)
        if pooled.n < max(k, RANK_MIN_N):
            continue
        est, ci, p = _p_vs_neutral(info, pooled)
        cand.append((vid, pooled, est, ci, p, len(parts)))
    hits = stats.benjamini_hochberg([c[4] for c in cand], STANDING_FDR) if cand else []
    out = {}
    for (vid, pooled, est, ci, p, periods), hit in zip(cand, hits, strict=True):
        side = "strength" if est >= STRENGTH_FROM else "concern" if est <= CONCERN_UPTO else None
        if hit and side:
            out[vid] = (side, pooled, est, ci, p, periods)
    return out


def standing_claims(
    per_round: PerRound, rounds: list, infos: dict[int, VersionInfo], k: int, changed: set[str]
) -> list[Claim]:
    """Strengths and concerns of the latest pulse, never flipping within a quarter without the
    change itself being a claim (``changed`` holds the subjects of change claims)."""
    quarter = [r.round_id for r in rounds if r.start > rounds[0].start - QUARTER]
    now = standing(per_round, quarter, infos, k)
    earlier = []
    for i, r in enumerate(rounds[1:], start=1):
        if r.start <= rounds[0].start - QUARTER:
            break
        win = [x.round_id for x in rounds[i:] if x.start > r.start - QUARTER]
        earlier.append(standing(per_round, win, infos, k))
    out = []
    for vid, (side, pooled, est, ci, p, periods) in now.items():
        info = infos[vid]
        flipped = any(e.get(vid, (side,))[0] != side for e in earlier)
        if flipped and f"item:{info.key}" not in changed:
            continue
        unit = "% favourable" if info.scale == "agree5" else "%"
        word = "favourable" if info.scale == "agree5" else ("no" if info.reverse else "yes")
        if info.scale == "scale0_10":
            fig = f"{est / 10:.1f} out of 10"
        else:
            fig = f"{est:.0f}% {word}"
        over = "this pulse" if periods == 1 else f"over the last {periods} pulses"
        out.append(
            Claim(
                side,
                f"item:{info.key}",
                None,
                f"“{info.text}” {fig} {over} (n={pooled.n})",
                Evidence(
                    est,
                    ci,
                    pooled.n,
                    unit,
                    f"clear of neutral (50) with the false discovery rate held at "
                    f"{STANDING_FDR:.0%}",
                    periods,
                    p=p,
                ),
            )
        )
    out.sort(key=lambda c: -c.evidence.estimate if c.kind == "strength" else c.evidence.estimate)
    return out


# --------------------------------------------------------------------------- participation


def _rates(parts: list[Participation]) -> dict[int, dict[str | None, list[int]]]:
    out: dict[int, dict[str | None, list[int]]] = {}
    for p in parts:
        cell = out.setdefault(p.round_id, {}).setdefault(p.department, [0, 0])
        cell[0] += p.invited
        cell[1] += p.responded
    return out


def participation_claim(invited: int, responded: int, who: str = "doctors") -> Claim:
    prop = stats.Proportion(responded, invited)
    ci = prop.ci()
    return Claim(
        "participation",
        "trust",
        None,
        f"{responded} of {invited} {who} answered ({100 * prop.estimate:.0f}%)",
        Evidence(
            100 * prop.estimate, (100 * ci.lo, 100 * ci.hi), invited, "% answered", "a count", 1
        ),
    )


def reach_claims(
    shown: dict[str, tuple[int, int]],
    hidden: list[str],
    parts: list[Participation],
    round_ids: list[int],
    k: int,
    published: dict[int, frozenset[str]],
) -> tuple[list[Claim], list[str]]:
    """Hard-to-reach claims and the departments held back only for protection.

    ``shown``: department -> (invited, responded) of the latest pulse, for departments whose
    figures are published; ``hidden``: departments whose figures are not; ``published``: round
    id -> departments whose participation figure the auditor published in that pulse. Falling
    compares the department's recent pulses with the ones before, as changes do (``windows``),
    pooling only pulses in which its own figure was published: a pooled rate that took in a
    pulse where it was held back (fewer than k, held back to protect a smaller group, or the
    audience changed), less the published pulses, would give the hidden count. Such a pulse is
    left out of both sides (and the words say so); a side left empty or under k responses
    makes no falling claim.
    """
    by_round = _rates(parts)
    latest = by_round.get(round_ids[0], {})
    total_inv = sum(c[0] for c in latest.values())
    total_resp = sum(c[1] for c in latest.values())
    recent, earlier = windows(len(round_ids))
    tests = []  # (department, reason, diff, p, (recent rate, earlier rate, pulses a side))
    for dept, (inv, resp) in shown.items():
        rest_inv, rest_resp = total_inv - inv, total_resp - resp
        if inv and rest_inv:
            a, b = stats.Proportion(resp, inv), stats.Proportion(rest_resp, rest_inv)
            tests.append(
                (dept, "low", stats.diff_proportions(a, b), stats.p_diff_proportions(a, b), None)
            )
        now_ids = _published_in(round_ids[:recent], dept, published)
        before_ids = _published_in(round_ids[recent : recent + earlier], dept, published)
        now, before = _pooled(by_round, now_ids, dept), _pooled(by_round, before_ids, dept)
        if now.n and before.n and min(now.successes, before.successes) >= k:
            d = stats.diff_proportions(now, before)
            sides = (
                100 * now.estimate,
                100 * before.estimate,
                (len(now_ids), recent),
                (len(before_ids), earlier),
            )
            tests.append((dept, "falling", d, stats.p_diff_proportions(now, before), sides))
    hits = stats.benjamini_hochberg([t[3] for t in tests], FDR) if tests else []
    reasons: dict[str, list] = {}
    for (dept, why, d, p, sides), hit in zip(tests, hits, strict=True):
        if hit and 100 * d.estimate <= -RATE_GAP:
            reasons.setdefault(dept, []).append((why, d, p, sides))
    overall = 100 * total_resp / total_inv if total_inv else 0.0
    out = [_reach_claim(dept, shown[dept], why, overall) for dept, why in reasons.items()]
    out.sort(key=lambda c: c.evidence.estimate)
    held = []
    for dept in hidden:
        _, resp = latest.get(dept, (0, 0))
        if resp < k:
            out.append(
                Claim(
                    "too_few",
                    f"department:{dept}",
                    None,
                    f"{dept}: too few answered to report (fewer than {k})",
                    Evidence(float(resp < k), None, 0, "", "fewer than the minimum group", 1),
                )
            )
        else:
            held.append(dept)
    return out, held


def _published_in(round_ids: list[int], dept: str, published: dict) -> list[int]:
    """The pulses of ``round_ids`` in which the auditor published ``dept``'s figure."""
    return [r for r in round_ids if dept in published.get(r, ())]


def _pooled(by_round, round_ids: list[int], dept: str) -> stats.Proportion:
    cells = [by_round[r][dept] for r in round_ids if dept in by_round.get(r, {})]
    return stats.Proportion(sum(c[1] for c in cells), sum(c[0] for c in cells))


def _falling_words(now: float, before: float, recent: tuple, earlier: tuple) -> str:
    """The fall in words; ``recent``/``earlier``: (pulses pooled, pulses in the window), fewer
    pooled where the department's figure was not published in some of them."""
    (r_used, r_all), (e_used, e_all) = recent, earlier
    left_out = "" if (r_used, e_used) == (r_all, e_all) else LEFT_OUT
    if r_all > 1:
        now_side = f"the last {r_all}" if r_used == r_all else f"{r_used} of the last {r_all}"
        before_side = f"the {e_all}" if e_used == e_all else f"{e_used} of the {e_all}"
        return (
            f"falling: {now:.0f}% over {now_side} pulses, from {before:.0f}% in {before_side} "
            f"before{left_out}"
        )
    if e_all == 1:
        return f"down from {before:.0f}% at the pulse before"
    if e_used == e_all:
        return f"down from {before:.0f}% on the average of the {e_all} pulses before"
    return f"down from {before:.0f}% in {e_used} of the {e_all} pulses before{left_out}"


LEFT_OUT = " (pulses where its figure was not published left out)"


def _reach_claim(dept: str, figures: tuple[int, int], why: list, overall: float) -> Claim:
    inv, resp = figures
    rate = 100 * resp / inv
    words = [f"{dept}: {rate:.0f}% answered"]
    kinds = [w for w, *_ in why]
    if "low" in kinds:
        words.append(f"against {overall:.0f}% across the trust")
    for w, _, _, sides in why:
        if w == "falling":
            now, before, recent, earlier = sides
            words.append(_falling_words(now, before, recent, earlier))
    d = why[0][1]
    ci = stats.Proportion(resp, inv).ci()
    return Claim(
        "hard_to_reach",
        f"department:{dept}",
        ",".join(kinds),
        ", ".join(words[:2]) + ("; " + words[2] if len(words) > 2 else ""),
        Evidence(
            rate,
            (100 * ci.lo, 100 * ci.hi),
            inv,
            "% answered",
            f"at least {RATE_GAP:.0f} points below, beyond noise with the false discovery rate "
            f"held at {FDR:.0%} (difference {100 * d.estimate:+.0f}, "
            f"95% interval {100 * d.lo:+.0f} to {100 * d.hi:+.0f})",
            1,
            p=min(p for _, _, p, _ in why),
        ),
    )


# --------------------------------------------------------------------------- one summary


def change_tests(
    per_round: PerRound, round_ids: list[int], infos: dict[int, VersionInfo], k: int
) -> list[_Test]:
    """Every comparison of the latest pulse: headline, then themes, then items. Only figures
    that are shown themselves (n >= k) enter, on either side, so no printed "before" or
    "after" hides a small group inside it."""
    from bot.insights.summary import on_0_100
    from questions.themes import LABELS as THEME_LABELS

    def shown(per: dict[int, ItemStats]) -> dict[int, ItemStats]:
        return {v: st for v, st in per.items() if st.n >= k}

    periods = [shown(per_round.get(r, {})) for r in round_ids]
    latest = periods[0]
    min_n = max(stats.MIN_N, k)
    heads, themes, items = [], [], []
    for vid in latest:
        info = infos[vid]
        series = [per.get(vid) for per in periods]
        trend = item_trend_series(info, series)
        unit = "/10" if info.scale == "scale0_10" else "points"
        if info.headline:
            heads += item_tests("headline", "Headline engagement", info, series, min_n)
            heads += trend_test("headline", "Headline engagement", [trend], unit)
        else:
            label = f"“{info.text}”"
            items += item_tests(f"item:{info.key}", label, info, series, max(min_n, ITEM_MIN_N))
            items += trend_test(f"item:{info.key}", label, [trend], unit)

    def by_theme(per: dict[int, ItemStats], theme: str) -> dict[int, stats.Mean]:
        return {
            v: on_0_100(infos[v], st)
            for v, st in per.items()
            if infos[v].theme == theme and not infos[v].headline
        }

    for theme in sorted({infos[v].theme for v in latest if not infos[v].headline}):
        label = THEME_LABELS.get(theme, theme)
        themes += theme_tests(theme, label, [by_theme(per, theme) for per in periods], min_n)
        themes += trend_test(
            f"theme:{theme}", label, theme_trend_series(periods, infos, theme), "points"
        )
    return heads + themes + items


def item_trend_series(info: VersionInfo, series: list[ItemStats | None]) -> list[tuple]:
    """An item's points for a trend: (pulse index, figure, variance of the figure, n), oldest
    pulse first, in the display unit; the variance uses the item's figure pooled over all its
    pulses (a pulse where everyone agreed would otherwise weigh infinitely)."""
    cells = [(len(series) - i, st) for i, st in enumerate(series) if st is not None]
    if not cells:
        return []
    pooled = pool([st for _, st in cells])
    if info.scale == "scale0_10":
        var = _mean(pooled).variance or 0.0
    else:
        p = favourable(info, pooled).estimate
        var = 10_000 * p * (1 - p)
    return [(x, _item_value(info, st), var / st.n, st.n) for x, st in cells]


def theme_trend_series(
    periods: list[dict[int, ItemStats]], infos: dict[int, VersionInfo], theme: str
) -> list[list[tuple]]:
    """Per item of the theme, its 0-100 means over the pulses (for a within-item trend)."""
    from bot.insights.summary import on_0_100

    by_item: dict[int, list] = {}
    for i, per in enumerate(periods):
        for v, st in per.items():
            if infos[v].theme == theme and not infos[v].headline:
                by_item.setdefault(v, []).append((len(periods) - i, on_0_100(infos[v], st)))
    out = []
    for cells in by_item.values():
        var = stats.pool_means(m for _, m in cells).variance or 0.0
        out.append([(x, m.estimate, var / m.n, m.n) for x, m in cells])
    return out


def build(
    per_round: PerRound,
    rounds: list,
    infos: dict[int, VersionInfo],
    k: int,
    answered: tuple[int, int],
    departments: tuple[dict[str, tuple[int, int]], list[str]] | None = None,
    parts: list[Participation] | None = None,
    published: dict[int, frozenset[str]] | None = None,
) -> Claims:
    """Every claim of one summary. ``rounds``: closed periods, newest first; ``answered``:
    (invited, responded) of the latest; ``departments``: (shown, hidden) for the trust view;
    ``published``: per round id, the departments whose participation figure was published
    (none given: no department's figure is pooled over pulses)."""
    round_ids = [r.round_id for r in rounds]
    out = Claims(pulses=len(rounds))
    out.items.append(participation_claim(*answered))
    tests = change_tests(per_round, round_ids, infos, k)
    out.tested = len(tests)
    changes = change_claims(tests)
    out.items += changes
    out.items += standing_claims(per_round, rounds, infos, k, {c.subject for c in changes})
    if departments is not None:
        reach, out.held_back = reach_claims(
            *departments, parts or [], round_ids, k, published or {}
        )
        out.items += reach
    return out
