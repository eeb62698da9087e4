"""Simulated doctors whose truth is known, for the demo and for bench/truth.py.

Why: a summary can only be shown to tell the truth where the truth is known. A simulated trust
plants effects of known size (a theme rising, an item falling, a department hard to reach or
answering less and less); its doctors answer through the real round, answer and summary code;
and :func:`World.claim_is_true` says whether a claim of the summary matches what was planted.

The answer model: each doctor has an engagement ``e`` ~ N(department mood, 0.9); an answer adds
N(0, 0.7) noise, the item's own offset and any planted shift, and maps onto the scale through
fixed cut points (agree5), a logistic (yes / no / unsure) or a line (0-10). Reverse-worded items
flip the sign first. Each doctor answers a pulse with the department's response probability.
"""

from __future__ import annotations

import math
import random
import zlib
from dataclasses import dataclass, field
from statistics import NormalDist

ENGAGEMENT_SD, ANSWER_SD = 0.9, 0.7
CUTS = (-1.3, -0.45, 0.25, 1.2)  # agree5: above the third cut is "agree" or better
GRADES = [("consultant", 0.40), ("sas", 0.15), ("resident", 0.38), ("medical_leader", 0.07)]
RATE_TRUTH_GAP = 0.05  # a department is truly below when its probability is 5 points lower
_PHI = NormalDist()


@dataclass(frozen=True)
class Plant:
    """One planted effect. ``size``: latent units per pulse (theme, item) from ``start`` on, or
    the response probability (a department hard to reach), or its fall per pulse."""

    kind: str  # "theme_rising", "item_falling", "dept_hard_to_reach", "dept_rate_falling"
    target: str  # theme slug, item key or department name
    size: float
    start: int = 1
    base: float = 0.0  # a constant latent offset of the target (where it starts from)


@dataclass(frozen=True)
class Dept:
    name: str
    respond: float
    mood: float = 0.0


@dataclass
class TrustSpec:
    name: str
    doctors: int
    pulses: int
    departments: list[Dept]
    plants: list[Plant] = field(default_factory=list)
    seed: int = 0
    item_sd: float = 0.6  # spread of items' own offsets (so some are strengths, some concerns)


@dataclass
class Doctor:
    user: str
    department: str
    grade: str
    engagement: float


class World:
    """A simulated trust: its doctors, how they answer, and the truth about them."""

    def __init__(self, spec: TrustSpec, prefix: str = "U") -> None:
        self.spec = spec
        self.rng = random.Random(spec.seed)
        self.doctors: dict[str, Doctor] = {}
        moods = {d.name: d.mood for d in spec.departments}
        for i in range(spec.doctors):
            dept = spec.departments[i % len(spec.departments)].name
            grade = self.rng.choices([g for g, _ in GRADES], [w for _, w in GRADES])[0]
            user = f"{prefix}{i:05d}"
            self.doctors[user] = Doctor(
                user, dept, grade, self.rng.gauss(moods[dept], ENGAGEMENT_SD)
            )

    # ------------------------------------------------------------------ the model

    def offset(self, key: str) -> float:
        """An item's own latent offset, fixed by the trust's seed and the item."""
        if not self.spec.item_sd:
            return 0.0
        r = random.Random(zlib.crc32(f"{self.spec.seed}:{key}".encode()))
        return r.gauss(0.0, self.spec.item_sd)

    def shift(self, theme: str, key: str, pulse: int, headline: bool = False) -> float:
        """Planted latent shift of an item at a pulse (1-based)."""
        out = 0.0
        for p in self.spec.plants:
            hit = (p.kind == "theme_rising" and p.target == theme and not headline) or (
                p.kind == "item_falling" and p.target == key
            )
            if hit:
                sign = 1.0 if p.kind == "theme_rising" else -1.0
                out += p.base + sign * p.size * max(0, pulse - p.start)
        return out

    def respond_p(self, dept: str, pulse: int) -> float:
        base = next(d.respond for d in self.spec.departments if d.name == dept)
        for p in self.spec.plants:
            if p.target != dept:
                continue
            if p.kind == "dept_hard_to_reach":
                base = p.size
            elif p.kind == "dept_rate_falling":
                base -= p.size * max(0, pulse - p.start)
        return max(0.02, min(0.98, base))

    def latent(self, d: Doctor, theme: str, key: str, pulse: int, headline: bool) -> float:
        return d.engagement + self.offset(key) + self.shift(theme, key, pulse, headline)

    def answer(
        self, d: Doctor, scale: str, theme: str, key: str, reverse: bool, pulse: int, headline=False
    ) -> int:
        e = self.latent(d, theme, key, pulse, headline) + self.rng.gauss(0, ANSWER_SD)
        if reverse:
            e = -e
        if scale == "scale0_10":
            return max(0, min(10, round(6.0 + 1.5 * e)))
        if scale == "yes_no_unsure":
            p_yes = 1 / (1 + math.exp(-1.3 * e))
            r = self.rng.random()
            return 1 if r < p_yes * 0.85 else (-1 if r < p_yes * 0.85 + 0.15 else 0)
        return 1 + sum(e > c for c in CUTS)

    # ------------------------------------------------------------------ the truth

    def _weights(self, pulse: int) -> list[tuple[Doctor, float]]:
        return [(d, self.respond_p(d.department, pulse)) for d in self.doctors.values()]

    def expected(self, info, pulse: int) -> float:
        """The expected figure of an item at a pulse, on 0-100 as the summary shows it: %
        favourable (or % yes / % no), or ten times the 0-10 mean; weighted by who answers."""
        total = weight = 0.0
        for d, w in self._weights(pulse):
            m = self.latent(d, info.theme, info.key, pulse, info.headline)
            total += w * _expected_one(info, m)
            weight += w
        return total / weight

    def rate(self, dept: str | None, pulse: int) -> float:
        """Expected response rate of a department (None: the rest of the trust is not needed;
        the whole trust)."""
        ws = [(d, w) for d, w in self._weights(pulse) if dept is None or d.department == dept]
        return sum(w for _, w in ws) / max(len(ws), 1)

    def _rest_rate(self, dept: str, pulse: int) -> float:
        ws = [w for d, w in self._weights(pulse) if d.department != dept]
        return sum(ws) / max(len(ws), 1)

    def claim_is_true(self, claim, pulse: int, infos_by_key: dict, themes: dict) -> bool | None:
        """Whether a claim made in the summary after ``pulse`` matches the truth; None for a
        statement of fact (participation, too few to report), which is true by construction.
        ``themes``: theme slug -> the item infos of that theme (for a theme's truth)."""
        e = claim.evidence
        if claim.kind in ("participation", "too_few"):
            return None
        if claim.kind == "change" and not e.periods_before:  # a trend over e.periods pulses
            span = [p for p in range(pulse - e.periods + 1, pulse + 1) if p >= 1]
            return self._trend_true(claim, span, infos_by_key, themes)
        if claim.kind == "change":
            recent = [pulse - i for i in range(e.periods) if pulse - i >= 1]
            before = [p for p in range(recent[-1] - e.periods_before, recent[-1]) if p >= 1]
            return self._change_true(claim, recent, before, infos_by_key, themes)
        if claim.kind in ("strength", "concern"):
            info = infos_by_key[claim.subject.split(":", 1)[1]]
            pulses = [pulse - i for i in range(e.periods) if pulse - i >= 1]
            value = sum(self.expected(info, p) for p in pulses) / len(pulses)
            return value > 50 if claim.kind == "strength" else value < 50
        if claim.kind == "hard_to_reach":
            dept = claim.subject.split(":", 1)[1]
            ok = True
            if "low" in claim.direction:
                ok &= self.rate(dept, pulse) <= self._rest_rate(dept, pulse) - RATE_TRUTH_GAP
            if "falling" in claim.direction:
                from bot.insights.claims import windows

                recent, earlier = windows(min(pulse, 12))
                now = [self.rate(dept, pulse - i) for i in range(recent)]
                past = [self.rate(dept, pulse - recent - i) for i in range(earlier)]
                gap = sum(past) / len(past) - sum(now) / len(now)
                ok &= gap >= RATE_TRUTH_GAP
            return ok
        raise ValueError(f"unknown claim kind {claim.kind!r}")

    def _subject_infos(self, subject: str, infos_by_key: dict, themes: dict) -> list:
        if subject == "headline":
            return [i for i in infos_by_key.values() if i.headline]
        if subject.startswith("theme:"):
            return themes.get(subject.split(":", 1)[1], [])
        return [infos_by_key[subject.split(":", 1)[1]]]

    def _trend_true(self, claim, span, infos_by_key, themes) -> bool:
        """True when planted shifts move the subject over the span, and the least-squares
        slope of its expected figure has the claimed sign."""
        infos = self._subject_infos(claim.subject, infos_by_key, themes)
        ys = [sum(self.expected(i, p) for i in infos) / len(infos) for p in span]
        mx, my = sum(span) / len(span), sum(ys) / len(ys)
        slope = sum((x - mx) * (y - my) for x, y in zip(span, ys, strict=True))
        planted = any(
            self.shift(i.theme, i.key, span[0], i.headline)
            != self.shift(i.theme, i.key, p, i.headline)
            for i in infos
            for p in span
        )
        return planted and (slope > 0 if claim.direction == "up" else slope < 0)

    def _change_true(self, claim, recent, before, infos_by_key, themes) -> bool:
        """True when a planted shift moved the subject between the two sides of the comparison,
        in the claimed direction (expected figures, weighted by who answers)."""
        subject = claim.subject
        if not before:
            return False
        if subject == "headline":
            infos = [i for i in infos_by_key.values() if i.headline]
        elif subject.startswith("theme:"):
            infos = themes.get(subject.split(":", 1)[1], [])
        else:
            infos = [infos_by_key[subject.split(":", 1)[1]]]

        def mean(pulses):
            return sum(self.expected(i, p) for i in infos for p in pulses) / len(pulses)

        diff = mean(recent) - mean(before)
        planted = any(
            self.shift(i.theme, i.key, a, i.headline) != self.shift(i.theme, i.key, b, i.headline)
            for i in infos
            for a in recent
            for b in before
        )
        return planted and (diff > 0 if claim.direction == "up" else diff < 0)

    def meaningful(self, plant: Plant) -> float:
        """The minimum meaningful size of a planted effect, in points (as the summary's)."""
        from bot.insights.claims import MEANINGFUL_0_100, RATE_GAP

        return MEANINGFUL_0_100 if plant.kind in ("theme_rising", "item_falling") else RATE_GAP

    def planted_size(self, plant: Plant, pulse: int, infos_by_key: dict) -> float:
        """How big a planted effect truly is at ``pulse``, in points, measured the way the
        summary compares (recent pulses against the ones before; a department against the rest
        of the trust, or against its own earlier pulses)."""
        from bot.insights.claims import windows

        recent, earlier = windows(min(pulse, 12))
        now = [pulse - i for i in range(recent)]
        before = [p for p in range(pulse - recent - earlier + 1, pulse - recent + 1) if p >= 1]
        if plant.kind == "dept_hard_to_reach":
            return 100 * (self._rest_rate(plant.target, pulse) - self.rate(plant.target, pulse))
        if plant.kind == "dept_rate_falling":
            mean = lambda ps: sum(self.rate(plant.target, p) for p in ps) / len(ps)  # noqa: E731
            return 100 * (mean(before) - mean(now))
        infos = (
            [i for i in infos_by_key.values() if i.theme == plant.target and not i.headline]
            if plant.kind == "theme_rising"
            else [infos_by_key[plant.target]]
        )
        fig = lambda ps: sum(self.expected(i, p) for i in infos for p in ps) / len(ps) / len(infos)  # noqa: E731
        return abs(fig(now) - fig(before))

    def named(self, plant: Plant, claims) -> bool:
        """Whether the last summary's claims name a planted effect."""
        if plant.kind == "theme_rising":
            return any(
                c.kind == "change" and c.direction == "up" and c.subject == f"theme:{plant.target}"
                for c in claims
            )
        if plant.kind == "item_falling":
            return any(
                c.kind == "change" and c.direction == "down" and c.subject == f"item:{plant.target}"
                for c in claims
            )
        return any(
            c.kind in ("hard_to_reach", "too_few") and c.subject == f"department:{plant.target}"
            for c in claims
        )


def _expected_one(info, m: float) -> float:
    """Expected figure (0-100) of one doctor whose latent mean for this item is ``m``."""
    sd = ANSWER_SD
    if info.reverse:
        m = -m
    if info.scale == "scale0_10":
        return 10 * (6.0 + 1.5 * m)
    if info.scale == "yes_no_unsure":
        a = 1.3 / math.sqrt(1 + math.pi * (1.3 * sd) ** 2 / 8)  # probit approximation
        p_yes = 0.85 / (1 + math.exp(-a * m))
        # favourable: "yes", or for a reverse item "no"/"not sure" (the answer model flipped e)
        return 100 * (1 - p_yes) if info.reverse else 100 * p_yes
    if info.reverse:  # favourable is disagreeing: below the second cut on the flipped scale
        return 100 * _PHI.cdf((CUTS[1] - m) / sd)
    return 100 * (1 - _PHI.cdf((CUTS[2] - m) / sd))
