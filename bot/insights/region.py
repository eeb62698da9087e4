"""The regional comparison (issue 17): response rates and headline scores by trust, which
specialties are hard to reach in how many trusts, and whether sharing results back is followed
by more answers; posted monthly to the regional leaders' channel and on demand.

What may be shown, and why it is safe
-------------------------------------
* A trust's figure is its own leaders' summary (``summary.build``, the one model, the trust's own
  auditor decisions): its response rate and headline score appear only where that summary
  publishes them, with the summary's own reason where it does not.
* A specialty's regional figure pools, over the trusts in the region, only department figures
  that their trust's summary publishes (a held-back department is never in a regional sum), and
  only where at least ``MIN_TRUSTS`` trusts contribute: with two, either trust could subtract its
  own figure and read the other's.
* Differencing: every regional number is a sum of figures already published inside one trust
  each, and the trusts' cells are disjoint. So anything a reader can work out from the regional
  view together with every trust's own publications is a sum of what each trust's publications
  allow, and each trust's auditor already made sure those isolate no group under k. A regional
  figure that took in a held-back department would break this (the regional sum less the other
  trusts' published figures gives it); ``tests/test_region.py`` checks both with the auditor.
* Over time: two comparisons around a trust joining or leaving (or a department remapped) would
  differ by that trust's figure if nothing else had changed, so after such a change a trust's
  departments count again only from a pulse closed after it (``_latest_pulses``). Beyond that,
  every specialty figure is checked against every regional figure published before
  (``region_differencing``, by rank over the trusts' cells): one that would let a reader in one
  trust work out another trust's own figures (a department that dropped out while nothing else
  changed, say) is held back and says so.
* Hard to reach is counted only from the trusts' own hard-to-reach claims (BH-controlled there),
  and only for a specialty with a regional figure; the comparison itself adds no claim of its
  own beyond the before/after, which is judged across the trusts together (``participation``).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from bot.admin import region as membership
from bot.chat.views import Image, Section, SummaryView
from bot.core import Core
from bot.insights import participation, region_differencing, specialties, stats, summary
from storage.models import Round, SummaryPost, Workspace

log = logging.getLogger("medpulse.region")

MIN_TRUSTS = 3  # trusts that must contribute to a specialty's regional figure
DUE_AT = time(9, 0)  # the monthly comparison: the 1st of the month, 09:00 host local time
GRACE = timedelta(days=3)  # a comparison missed by a stopped scheduler is still posted within this


@dataclass(frozen=True)
class TrustRow:
    name: str
    period: str | None
    invited: int | None = None  # None: not published inside the trust, so not here
    responded: int | None = None
    rate_ci: tuple[float, float] | None = None  # percent
    headline: float | None = None
    headline_ci: tuple[float, float] | None = None
    headline_n: int = 0
    headline_label: str | None = None  # the trust summary's own words (its claims)
    held: str | None = None  # why nothing is shown
    loop: participation.BeforeAfter | None = None

    @property
    def rate(self) -> float | None:
        return 100 * self.responded / self.invited if self.invited else None


@dataclass(frozen=True)
class TrustFigures:
    """What one trust's summary publishes that the region may pool."""

    key: Hashable
    departments: Mapping[str, tuple[int, int]]  # published department -> (invited, responded)
    hard_to_reach: frozenset[str] = frozenset()
    specialty_of: Mapping[str, str | None] = field(default_factory=dict)
    period: str | None = None  # the summary's period: which figures these are


@dataclass(frozen=True)
class SpecialtyRow:
    specialty: str
    trusts: int
    invited: int
    responded: int
    hard_to_reach: int  # of the contributing trusts, how many name it hard to reach
    contributors: tuple[tuple[Hashable, str], ...]  # (trust, department): for the audit test

    @property
    def rate(self) -> float:
        return 100 * self.responded / self.invited

    @property
    def rate_ci(self) -> tuple[float, float]:
        ci = stats.Proportion(self.responded, self.invited).ci()
        return 100 * ci.lo, 100 * ci.hi


@dataclass
class Comparison:
    month: str
    k: int
    trusts: list[TrustRow] = field(default_factory=list)
    specialties: list[SpecialtyRow] = field(default_factory=list)
    too_few: list[str] = field(default_factory=list)  # specialties under MIN_TRUSTS
    waiting: list[str] = field(default_factory=list)  # trusts left out of specialty figures
    changed: datetime | None = None  # when the region changed since its first comparison
    differenced: list[str] = field(default_factory=list)  # held back: see region_differencing
    figures: list[region_differencing.Figure] = field(default_factory=list)  # what is shown


def specialty_rows(
    figures: Sequence[TrustFigures], min_trusts: int = MIN_TRUSTS
) -> tuple[list[SpecialtyRow], list[str]]:
    """Pool published department figures by specialty: (rows with a regional figure, names of
    specialties with fewer than ``min_trusts`` contributing trusts)."""
    pooled: dict[str, dict[Hashable, list]] = defaultdict(dict)
    for f in figures:
        for dept, (invited, responded) in f.departments.items():
            spec = f.specialty_of.get(dept)
            if spec is None or not invited:
                continue
            cell = pooled[spec].setdefault(f.key, [0, 0, False, []])
            cell[0] += invited
            cell[1] += responded
            cell[2] = cell[2] or dept in f.hard_to_reach
            cell[3].append(dept)
    rows, too_few = [], []
    for spec in sorted(pooled):
        by_trust = pooled[spec]
        if len(by_trust) < min_trusts:
            too_few.append(spec)
            continue
        rows.append(
            SpecialtyRow(
                spec,
                len(by_trust),
                sum(c[0] for c in by_trust.values()),
                sum(c[1] for c in by_trust.values()),
                sum(1 for c in by_trust.values() if c[2]),
                tuple((t, d) for t, c in by_trust.items() for d in c[3]),
            )
        )
    rows.sort(key=lambda r: (-r.hard_to_reach, r.rate, r.specialty))
    return rows, too_few


# --------------------------------------------------------------------------- one trust


def _name(ws: Workspace) -> str:
    return ws.name or ws.team_id


def trust_row(name: str, model: summary.Summary) -> TrustRow:
    """The trust's row, exactly as its own summary publishes it."""
    if model.suppressed_reason:
        return TrustRow(name, model.period, held=model.suppressed_reason)
    ci = stats.Proportion(model.respondents, model.invited).ci() if model.invited else None
    h = model.headline
    shown = h is not None and h.mean is not None
    return TrustRow(
        name,
        model.period,
        model.invited,
        model.respondents,
        (100 * ci.lo, 100 * ci.hi) if ci else None,
        h.mean if shown else None,
        h.ci if shown else None,
        h.n if shown else 0,
        h.label if shown else None,
    )


def trust_figures(key: Hashable, model: summary.Summary, chosen: dict) -> TrustFigures:
    """The department figures the trust's summary publishes, and its hard-to-reach claims."""
    if model.suppressed_reason:
        return TrustFigures(key, {})
    depts = {
        d.department: (d.invited, d.responded)
        for d in model.departments
        if d.recorded and d.shown and d.invited
    }
    hard = frozenset(
        c.subject.removeprefix("department:") for c in model.claims.of("hard_to_reach")
    )
    return TrustFigures(
        key,
        depts,
        hard,
        {d: specialties.specialty_of(d, chosen) for d in depts},
        model.period,
    )


def build(core: Core, now: datetime | None = None) -> Comparison:
    """The comparison of the trusts in the region now."""
    now = now or core.clock.now()
    with core.db.Session() as s:
        inside = membership.members(s)
        workspaces = {w.id: w for w in s.scalars(select(Workspace).where(Workspace.id.in_(inside)))}
        chosen = {ws: membership.overrides(s, ws) for ws in inside}
        latest = _latest_pulses(s, inside)
        first = s.scalar(
            select(func.min(SummaryPost.posted_at)).where(SummaryPost.slot_key.like("region%"))
        )
        changed = None if first is None else membership.changed_after(s, first)
    out = Comparison(f"{now:%B %Y}", core.k, changed=changed)
    figures = []
    for ws in inside:
        model = summary.build(core, ws)
        out.trusts.append(trust_row(_name(workspaces[ws]), model))
        if changed is not None and (latest.get(ws) is None or latest[ws] <= changed):
            out.waiting.append(_name(workspaces[ws]))  # see ``_latest_pulses``
            figures.append(TrustFigures(ws, {}))
        else:
            figures.append(trust_figures(ws, model, chosen[ws]))
    judged = participation.judge([_loop(core, ws) for ws in inside])
    out.trusts = [replace(row, loop=loop) for row, loop in zip(out.trusts, judged, strict=True)]
    rows, out.too_few = specialty_rows(figures)
    _hold_differences(core, out, rows, {f.key: f for f in figures})
    return out


def _figure(
    row: SpecialtyRow, by_trust: Mapping[Hashable, TrustFigures]
) -> region_differencing.Figure:
    cells = frozenset(
        (trust, dept, by_trust[trust].period, *by_trust[trust].departments[dept])
        for trust, dept in row.contributors
    )
    return region_differencing.Figure(row.specialty, cells)


def _hold_differences(
    core: Core, out: Comparison, rows: list[SpecialtyRow], by_trust: Mapping[Hashable, TrustFigures]
) -> None:
    """Show only the specialty figures that, beside every regional figure published before,
    give no trust's own figures away (``region_differencing``)."""
    figures = {r.specialty: _figure(r, by_trust) for r in rows}
    with core.db.Session() as s:
        history = region_differencing.earlier(s)
    shown = region_differencing.choose(history, figures.values())
    out.specialties = [r for r in rows if r.specialty in shown]
    out.differenced = [r.specialty for r in rows if r.specialty not in shown]
    out.figures = [figures[r.specialty] for r in out.specialties]


def _loop(core: Core, ws: int) -> participation.BeforeAfter | None:
    """The trust's before and after sharing back, unjudged (the region judges them together)."""
    since = participation.first_share(core, ws)
    if since is None:
        return None
    return participation.before_after(participation.pulses(core, ws), since, core.k)


def _latest_pulses(s, workspaces: list[int]) -> dict[int, datetime]:
    """When each trust's latest pulse closed.

    Why: a specialty figure is a sum over trusts, and two comparisons around a change to who is
    in it (a trust joining or leaving, a department remapped) would differ by that trust's own
    department figure if every other trust's figure were the same in both. So after such a
    change (once a comparison has been posted), a trust's departments count again only from a
    pulse that closed after it: every figure in the sum is then new, and the difference mixes
    several trusts' unknown changes (one reader can take out only their own)."""
    rows = s.execute(
        select(Round.workspace_id, func.max(Round.closed_at))
        .where(Round.workspace_id.in_(workspaces), Round.status == "closed")
        .group_by(Round.workspace_id)
    )
    return {w: at for w, at in rows}


# --------------------------------------------------------------------------- words


def _range(ci: tuple[float, float] | None, fmt: str = ".0f", unit: str = "") -> str:
    return "" if ci is None else f" (95% interval {ci[0]:{fmt}}–{ci[1]:{fmt}}{unit})"


def trust_line(t: TrustRow) -> str:
    if t.held:
        return f"• *{t.name}*: not shown. {t.held}"
    rate = f"{t.responded} of {t.invited} answered, {t.rate:.0f}%{_range(t.rate_ci, unit='%')}"
    head = (
        f"headline {t.headline:.1f}/10{_range(t.headline_ci, '.1f')}, n={t.headline_n}, "
        f"{t.headline_label.lower()}"
        if t.headline is not None
        else "headline: too few answers to show"
    )
    return f"• *{t.name}* (period from {t.period}): {rate}; {head}"


def lines(c: Comparison) -> list[str]:
    """The comparison as text, section by section."""
    out = [f"*Response rates and headline engagement by trust* ({len(c.trusts)} trusts)"]
    out += [trust_line(t) for t in c.trusts] or ["No trust is in the region yet."]
    out.append(f"*Specialties across trusts* (a regional figure needs {MIN_TRUSTS} or more trusts)")
    for r in c.specialties:
        hard = (
            f"hard to reach in {r.hard_to_reach} of {r.trusts} trusts"
            if r.hard_to_reach
            else f"hard to reach in none of {r.trusts} trusts"
        )
        out.append(
            f"• {r.specialty}: {r.responded} of {r.invited} answered, {r.rate:.0f}%"
            f"{_range(r.rate_ci, unit='%')}; {hard}"
        )
    if not c.specialties and not c.differenced:
        out.append("No specialty has published figures from enough trusts yet.")
    if c.waiting:
        out.append(
            f"Specialty figures leave out {', '.join(c.waiting)} for now: the region changed on "
            f"{c.changed.day} {c.changed:%b %Y} (a trust joined or left, or a department was "
            "mapped anew), so they count again from their next pulse, and the change can't be "
            "worked out by comparing this with an earlier comparison."
        )
    if c.differenced:
        out.append(
            "Held back this month: "
            + ", ".join(c.differenced)
            + ". Too few trusts' figures for them changed since an earlier comparison, so set "
            "against it, this month's figure would show one trust's own figures."
        )
    if c.too_few:
        out.append(
            f"No regional figure (fewer than {MIN_TRUSTS} trusts contribute): "
            + ", ".join(c.too_few)
        )
    out.append("*Closing the loop: response rates before and after results were first shared back*")
    for t in c.trusts:
        if not t.held:
            out.append(f"• {t.name}: {participation.words(t.loop)}")
    return out


def title(c: Comparison) -> str:
    return f"Regional comparison · medical engagement pulse · {c.month}"


FOOTER = (
    "Each trust's figures are exactly those its own leaders' summary publishes (no figure from "
    "fewer than {k} people). A specialty's regional figure pools only published department "
    "figures, from {m} or more trusts, so no trust's figure can be worked out from it. "
    "Hard to reach is each trust's own finding, beyond noise there."
)


def view(c: Comparison) -> SummaryView:
    """The comparison as a summary view: its first part is the headline, each part that starts
    with a bold heading a section, and the footer says what is held back and why."""
    groups: list[list[str]] = [[]]
    for line in lines(c):
        if line.startswith("*") and groups[-1]:
            groups.append([])
        groups[-1].append(line)
    first, *rest = groups
    return SummaryView(
        title=title(c),
        headline="\n".join(first),
        sections=tuple(Section("", tuple(g)) for g in rest),
        fallback=title(c),
        footer=FOOTER.format(k=c.k, m=MIN_TRUSTS),
    )


# --------------------------------------------------------------------------- posting


def post(core: Core, slot_key: str | None = None, now: datetime | None = None) -> str | None:
    """Post the comparison and its chart to the regional channel; the reason instead when there
    is no channel (or the slot was already posted)."""
    from bot.insights import region_chart

    ch = membership.channel(core)
    if ch is None:
        return "there is no regional channel (an admin of a member trust sets one)"
    if slot_key and not _claim(core, ch, slot_key):
        return "this month's comparison is already posted"
    comparison = build(core, now)
    gw = core.gateway(ch.team_id)
    try:
        image = Image(
            region_chart.png(comparison),
            region_chart.alt(comparison),
            "medpulse-region.png",
            title(comparison),
        )
    except Exception:  # noqa: BLE001 - the figures go out without their chart, and say so in the log
        log.exception("regional chart for %s failed", ch.channel_id)
        image = None
    try:
        posted = gw.post_channel(ch.channel_id, view(comparison), image)
    except Exception:
        if slot_key:
            _unclaim(core, ch, slot_key)
        raise
    with core.db.Session() as s, s.begin():  # what a later comparison must be checked against
        region_differencing.record(s, comparison.figures, core.clock.now())
    if not slot_key:  # on demand: recorded too, as a comparison a later one could be set against
        _claim(core, ch, f"region-demand:{posted.message}")
    return None


def _claim(core: Core, ch: membership.Channel, slot_key: str) -> bool:
    try:
        with core.db.Session() as s, s.begin():
            s.add(
                SummaryPost(
                    workspace_id=ch.workspace_id,
                    channel_id=ch.channel_id,
                    slot_key=slot_key,
                    posted_at=core.clock.now(),
                )
            )
        return True
    except IntegrityError:
        return False


def _unclaim(core: Core, ch: membership.Channel, slot_key: str) -> None:
    with core.db.Session() as s, s.begin():
        s.execute(
            delete(SummaryPost).where(
                SummaryPost.workspace_id == ch.workspace_id,
                SummaryPost.channel_id == ch.channel_id,
                SummaryPost.slot_key == slot_key,
            )
        )


def due(now: datetime, tz: str) -> datetime:
    """This month's comparison time (the 1st, ``DUE_AT`` local), or last month's if not yet."""
    zone = ZoneInfo(tz)
    local = now.astimezone(zone)
    at = datetime.combine(local.date().replace(day=1), DUE_AT, zone)
    if at > local:
        last = local.date().replace(day=1) - timedelta(days=1)
        at = datetime.combine(last.replace(day=1), DUE_AT, zone)
    return at


def post_due(core: Core, now: datetime) -> int:
    """The monthly job, on every scheduler tick: 1 if it posted this month's comparison."""
    ch = membership.channel(core)
    if ch is None:
        return 0
    with core.db.Session() as s:
        when = due(now, s.get(Workspace, ch.workspace_id).timezone)
        slot = f"region:{when:%Y-%m}"
        if len(membership.members(s)) < 2 or now - when > GRACE:
            return 0  # a region of one trust compares nothing
        done = s.scalar(
            select(SummaryPost.id).where(
                SummaryPost.workspace_id == ch.workspace_id,
                SummaryPost.channel_id == ch.channel_id,
                SummaryPost.slot_key == slot,
            )
        )
    if done is not None:  # every tick asks; only the first of the month posts
        return 0
    return int(post(core, slot, now) is None)
