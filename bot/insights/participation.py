"""Participation as a result (issue 17): is sharing results back followed by more doctors answering?

The comparison is the trust's response rate over the pulses before results were first shared back
(a department's results posted into its channel, ``/pulse share``, as the audit log records it)
against the pulses that started after. A pulse open at that moment is on neither side.

Why it is worded with care:
* It is before and after, not a controlled trial: anything else that changed at the time changes
  the rate too, so the words say "followed by", never "caused".
* Each side pools several pulses' invitations, and the interval (Newcombe's, from the two Wilson
  intervals: ``stats.diff_proportions``) treats invitations as independent; the same doctors are
  asked again and again, so the true uncertainty is somewhat wider. A change is named only when
  the interval excludes zero *and* the test survives Benjamini-Hochberg across every comparison
  shown together (one per trust in the regional view), as the summary's claims do; otherwise
  "no clear change".
* Only pulses whose trust-wide figure is published (at least k answered) are pooled: a pooled
  rate that took in a held-back pulse, less the published ones, would give that pulse's count.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import func, select

from bot.chat.views import Section
from bot.core import Core
from bot.insights import stats, summary
from storage import queries
from storage.models import AuditEntry, Round, RoundParticipation

SHARE_ACTIONS = ("department share",)  # audit-log actions that share results back
WINDOW = 6  # pulses pooled on each side, the latest ones (as the summary's baseline)
FDR = 0.05


@dataclass(frozen=True)
class Pulse:
    created_at: datetime
    closed_at: datetime
    invited: int
    responded: int


@dataclass(frozen=True)
class BeforeAfter:
    """The rate before and after ``since``; ``diff`` (after - before) only when both sides have
    at least k answers; ``clear`` once judged beyond noise (see the module notes)."""

    since: datetime
    before: stats.Proportion
    after: stats.Proportion
    pulses_before: int
    pulses_after: int
    diff: stats.Diff | None = None
    p: float | None = None
    clear: bool = False

    @property
    def verdict(self) -> str:
        if self.diff is None:
            return "too few pulses to tell"
        if not self.clear:
            return "no clear change"
        return "higher" if self.diff.estimate > 0 else "lower"


def before_after(pulses: Sequence[Pulse], since: datetime, k: int) -> BeforeAfter:
    """Pool the published pulses closed by ``since`` and those started after it."""
    shown = [p for p in pulses if p.invited and p.responded >= k]
    before = sorted((p for p in shown if p.closed_at <= since), key=lambda p: p.closed_at)
    after = sorted((p for p in shown if p.created_at > since), key=lambda p: p.closed_at)
    before, after = before[-WINDOW:], after[-WINDOW:]

    def pooled(side: list[Pulse]) -> stats.Proportion:
        return stats.Proportion(sum(p.responded for p in side), sum(p.invited for p in side))

    out = BeforeAfter(since, pooled(before), pooled(after), len(before), len(after))
    if min(out.before.successes, out.after.successes) < k:
        return out
    return replace(
        out,
        diff=stats.diff_proportions(out.after, out.before),
        p=stats.p_diff_proportions(out.after, out.before),
    )


def judge(results: Sequence[BeforeAfter | None]) -> list[BeforeAfter | None]:
    """Mark the comparisons beyond noise: interval excludes zero and BH across all of them."""
    tested = [i for i, r in enumerate(results) if r is not None and r.diff is not None]
    hits = stats.benjamini_hochberg([results[i].p for i in tested], FDR) if tested else []
    out = list(results)
    for i, hit in zip(tested, hits, strict=True):
        out[i] = replace(results[i], clear=bool(hit and results[i].diff.excludes_zero))
    return out


# --------------------------------------------------------------------------- from the database


def first_share(core: Core, workspace_id: int) -> datetime | None:
    """When the trust first shared results back, from its audit log."""
    with core.db.Session() as s:
        return s.scalar(
            select(func.min(AuditEntry.at)).where(
                AuditEntry.workspace_id == workspace_id, AuditEntry.action.in_(SHARE_ACTIONS)
            )
        )


def pulses(core: Core, workspace_id: int) -> list[Pulse]:
    """Every closed pulse of the trust with its frozen invited and responded totals."""
    with core.db.Session() as s:
        rows = s.execute(
            select(
                Round.created_at,
                Round.closed_at,
                func.sum(RoundParticipation.invited),
                func.sum(RoundParticipation.responded),
            )
            .join(RoundParticipation, RoundParticipation.round_id == Round.id)
            .where(Round.workspace_id == workspace_id, Round.status == "closed")
            .group_by(Round.id, Round.created_at, Round.closed_at)
        ).all()
    return [Pulse(c, d, int(i or 0), int(n or 0)) for c, d, i, n in rows if d is not None]


def first_department_share(core: Core, workspace_id: int, department: str) -> datetime | None:
    """When the department's results were first posted into a channel (``/pulse share``)."""
    with core.db.Session() as s:
        rows = s.execute(
            select(AuditEntry.at, AuditEntry.new).where(
                AuditEntry.workspace_id == workspace_id, AuditEntry.action.in_(SHARE_ACTIONS)
            )
        ).all()
    return min((at for at, new in rows if (new or "").startswith(f"{department} → ")), default=None)


def department_pulses(core: Core, workspace_id: int, department: str) -> list[Pulse]:
    """The department's closed pulses in which the auditor published its own participation
    figure (``summary.published_departments``): a pooled rate must take in no other."""
    with core.db.Session() as s:
        periods = queries.closed_periods(s, workspace_id, 52)
        ids = [p.round_id for p in periods]
        parts = queries.participation(s, ids)
        when = {
            r: (c, d)
            for r, c, d in s.execute(
                select(Round.id, Round.created_at, Round.closed_at).where(Round.id.in_(ids))
            )
        }
    shown = summary.published_departments(parts, ids, core.k)
    out = []
    for r in ids:
        if department not in shown.get(r, ()):
            continue
        mine = [p for p in parts if p.round_id == r and p.department == department]
        out.append(Pulse(*when[r], sum(p.invited for p in mine), sum(p.responded for p in mine)))
    return out


def of_department(core: Core, workspace_id: int, department: str) -> BeforeAfter | None:
    """The department's before and after its own first share, or None if never shared."""
    since = first_department_share(core, workspace_id, department)
    if since is None:
        return None
    pulses_ = department_pulses(core, workspace_id, department)
    return judge([before_after(pulses_, since, core.k)])[0]


def of_trust(core: Core, workspace_id: int) -> BeforeAfter | None:
    """The trust's before and after (judged on its own), or None if it never shared back."""
    since = first_share(core, workspace_id)
    if since is None:
        return None
    return judge([before_after(pulses(core, workspace_id), since, core.k)])[0]


# --------------------------------------------------------------------------- words


def _pct(p: stats.Proportion) -> str:
    ci = p.ci()
    return f"{100 * p.estimate:.0f}% (95% interval {100 * ci.lo:.0f}–{100 * ci.hi:.0f}%)"


def _pulses(n: int) -> str:
    return f"{n} pulse" + ("" if n == 1 else "s")


def words(r: BeforeAfter | None, department: str | None = None) -> str:
    """One line, true whatever the data: a change is named only when ``clear``."""
    if r is None:
        where = f"{department}'s channel" if department else "a department's channel"
        return (
            f"Results have not been shared back into {where} yet "
            "(`/pulse share`), so there is no before and after to compare."
        )
    when = f"{r.since.day} {r.since:%b %Y}"
    if r.diff is None:
        return (
            f"Results were first shared back on {when}; too few pulses on one side yet "
            f"({_pulses(r.pulses_before)} before, {_pulses(r.pulses_after)} after) to compare "
            "response rates."
        )
    lo, hi = 100 * r.diff.lo, 100 * r.diff.hi
    ci = f"95% interval {lo:+.0f} to {hi:+.0f} points"
    verdict = (
        f"{r.verdict} by {abs(100 * r.diff.estimate):.0f} points ({ci})"
        if r.clear
        else f"no clear change ({100 * r.diff.estimate:+.0f} points, {ci})"
    )
    return (
        f"Since results were first shared back ({when}): {_pct(r.after)} answered over "
        f"{_pulses(r.pulses_after)}, against {_pct(r.before)} over the "
        f"{_pulses(r.pulses_before)} before: {verdict}. Before and after, not a controlled "
        "comparison."
    )


def shared_departments(core: Core, workspace_id: int) -> list[str]:
    """Departments whose results were shared back, most recently first shared first."""
    with core.db.Session() as s:
        rows = s.execute(
            select(AuditEntry.new, func.min(AuditEntry.at))
            .where(AuditEntry.workspace_id == workspace_id, AuditEntry.action.in_(SHARE_ACTIONS))
            .group_by(AuditEntry.new)
        ).all()
    first: dict[str, datetime] = {}
    for new, at in rows:
        dept = (new or "").rpartition(" → ")[0]
        if dept and (dept not in first or at < first[dept]):
            first[dept] = at
    return sorted(first, key=lambda d: first[d], reverse=True)


PER_SECTION = 3  # shared departments listed in the leaders' summary


def section_lines(core: Core, workspace_id: int) -> list[str]:
    """The trust's before and after, then each recently shared department's own (its rate
    around its own first share, pooling only pulses where its figure was published), judged
    together (one Benjamini-Hochberg family)."""
    depts = shared_departments(core, workspace_id)[:PER_SECTION]
    found = [
        (None, of_trust(core, workspace_id)),
        *((d, of_department(core, workspace_id, d)) for d in depts),
    ]
    judged = judge([r for _, r in found])
    out = [words(judged[0])]
    out += [f"• {d}: {words(r, d)}" for (d, _), r in zip(found[1:], judged[1:], strict=True)]
    return out


def part(core: Core, workspace_id: int) -> tuple[Section, ...]:
    """The leaders' summary section: does sharing results back go with more answers?"""
    return (Section("", ("*Closing the loop*", *section_lines(core, workspace_id))),)
