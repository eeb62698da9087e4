"""The checklist workshop page: one landscape PNG with the 14 questions, leaders' ratings, doctors'
scores with intervals, and the gaps, ready for a board or a workshop.

Drawing is split from the data (``draw_page`` takes plain rows) so the page can be checked with
any mix of rated, unrated and suppressed questions without running pulses first.
"""

from __future__ import annotations

import io
import textwrap
from datetime import datetime, timedelta

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.transforms import blended_transform_factory  # noqa: E402

from bot.core import Core  # noqa: E402
from bot.insights import checklist, gap  # noqa: E402
from storage import anonymity  # noqa: E402

INK, MUTED, LEAD, DOC, FLAG = "#1f2933", "#616e7c", "#b45309", "#0b4f6c", "#b91c1c"
#: Where the three figure columns sit, in figure coordinates (right of the chart).
COLUMNS = {"Leaders": 0.795, "Doctors (95% CI)": 0.875, "Gap": 0.955}
STALE_AFTER = timedelta(days=91)  # a self-assessment older than a quarter is marked as such


def trust_name(core: Core, fallback: str | None) -> str:
    """The name every page is headed with: ``MEDPULSE_TRUST_NAME`` when set (a Slack workspace
    is often named for a team or a region, not the trust), else the workspace's name."""
    return core.settings.trust_name or fallback or "This trust"


def latest_rating(core: Core, workspace_id: int) -> datetime | None:
    """When leaders last rated the checklist (None: never)."""
    from sqlalchemy import func, select

    from storage.models import Assessment

    with core.db.Session() as s:
        when = s.scalar(
            select(func.max(Assessment.taken_at)).where(Assessment.workspace_id == workspace_id)
        )
    if when is not None and when.tzinfo is None:
        from datetime import UTC

        when = when.replace(tzinfo=UTC)
    return when


def page_png(core: Core, workspace_id: int, team_name: str) -> bytes:
    """The page for one workspace, as of now."""
    view = checklist.leadership_view(core, workspace_id)
    return draw_page(
        gap.rows(core, workspace_id),
        view,
        core.k,
        trust_name(core, team_name),
        core.clock.now(),
        gap.WINDOW,
        latest_rating(core, workspace_id),
    )


def draw_page(
    rows: list[gap.GapRow],
    view: checklist.LeadershipView,
    k: int,
    team_name: str,
    when: datetime,
    window: int,
    rated_at: datetime | None = None,
) -> bytes:
    fig = plt.figure(figsize=(16.5, 11.7))  # A4 landscape proportions, large enough to print
    ax = fig.add_axes((0.41, 0.15, 0.35, 0.73))
    for y, r in enumerate(reversed(rows)):
        _row(fig, ax, y, r, k)
    top = len(rows) - 0.3
    ax.set_ylim(-0.7, top)
    ax.set_xlim(0, 100)
    ax.set_yticks([])
    ax.set_xticks([0, 25, 50, 75, 100])
    ax.tick_params(labelsize=11, colors=INK)
    ax.grid(axis="x", color="#e4e7eb", zorder=0)
    ax.spines[["top", "right", "left"]].set_visible(False)
    ax.set_xlabel("Score on a 0–100 scale", color=INK, fontsize=12)
    header = blended_transform_factory(fig.transFigure, ax.transData)
    for name, x in COLUMNS.items():
        ax.text(x, top, name, transform=header, ha="center", va="bottom", fontsize=11.5,
                weight="bold", color=INK, clip_on=False)  # fmt: skip
    _titles(fig, view, team_name, when, window, rated_at)
    _legend(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return buf.getvalue()


def _titles(
    fig, view, team_name: str, when: datetime, window: int, rated_at: datetime | None
) -> None:
    fig.text(0.02, 0.955, f"{team_name}: how leaders and doctors see medical engagement",
             fontsize=21, color=INK, weight="bold")  # fmt: skip
    leaders = f"{view.leaders} leader{'s' if view.leaders != 1 else ''}"
    sub = (
        f"{when:%-d %B %Y} · leaders' self-assessment {view.cycle or 'not yet done'}"
        f" ({leaders}) · doctors' anonymous pulse answers over the last {window} pulses"
    )
    fig.text(0.02, 0.925, sub, fontsize=12.5, color=MUTED)
    if rated_at is not None and when - rated_at > STALE_AFTER:
        fig.text(0.02, 0.9, f"Stale: leaders last rated the checklist on {rated_at:%-d %B %Y}, "
                 "more than a quarter ago. Rate it again with /pulse checklist.",
                 fontsize=12.5, color=FLAG, weight="bold")  # fmt: skip


def _legend(fig) -> None:
    handles = [
        plt.Line2D([], [], marker="D", ls="", color=LEAD, ms=9, label="Leaders (team average)"),
        plt.Line2D([], [], marker="o", ls="-", color=DOC, ms=8, label="Doctors, with 95% interval"),
        plt.Line2D([], [], ls="-", color=FLAG, lw=1.5, label="Gap beyond the doctors' interval"),
    ]
    fig.legend(handles=handles, loc="lower left", bbox_to_anchor=(0.02, 0.06), ncol=3,
               frameon=False, fontsize=11.5)  # fmt: skip
    scale = (
        "The 0–100 scale: leaders' rating 1 (not in place) = 0 … 5 (embedded) = 100. Doctors: "
        "strongly disagree = 0 … strongly agree = 100 (0–10 answers ×10; yes = 100, no = 0), "
        "reverse-worded items flipped. Gap = leaders − doctors, shown only when the leaders' "
        "figure is outside the doctors' interval."
    )
    fig.text(0.02, 0.015, textwrap.fill(scale, 190), fontsize=10.5, color=MUTED)


def _row(fig, ax, y: int, r: gap.GapRow, k: int) -> None:
    label = textwrap.fill(f"{_short(r.ref)}  {r.question}", 64)
    ax.text(-2, y, label, ha="right", va="center", fontsize=11, color=INK, clip_on=False)
    if r.leaders is not None and r.doctors is not None:
        ax.plot([r.leaders, r.doctors], [y, y], color=FLAG if r.flagged else MUTED, zorder=1,
                lw=1.5 if r.flagged else 1, ls="-" if r.flagged else ":")  # fmt: skip
    if r.doctors is not None:
        if r.doctors_ci:
            ax.plot(r.doctors_ci, [y, y], color="#8fb3c4", lw=3.5, zorder=2)
        ax.plot([r.doctors], [y], "o", color=DOC, ms=9, zorder=3)
    if r.leaders is not None:
        ax.plot([r.leaders], [y], "D", color=LEAD, ms=9, zorder=4, clip_on=False)
    cells = dict(zip(COLUMNS, _cells(r, k), strict=True))
    row_t = blended_transform_factory(fig.transFigure, ax.transData)
    for name, x in COLUMNS.items():
        color = FLAG if r.flagged and name == "Gap" else INK
        ax.text(x, y, cells[name], transform=row_t, ha="center", va="center", fontsize=11,
                color=color, weight="bold" if color == FLAG else "normal", clip_on=False)  # fmt: skip


def _short(ref: str) -> str:
    return gap.NAMES.get(ref, ref) + ":"


def _cells(r: gap.GapRow, k: int) -> tuple[str, str, str]:
    """Leaders, doctors and gap as text; a small doctors' group reads as the k label, never a number."""
    lead = f"{r.leaders:.0f}" if r.leaders is not None else "not rated"
    if r.doctors is None:
        doc = textwrap.fill(anonymity.k_label(k), 14) if r.n else "not asked yet"
    elif r.doctors_ci:
        doc = f"{r.doctors:.0f} ({r.doctors_ci[0]:.0f}–{r.doctors_ci[1]:.0f})"
    else:
        doc = f"{r.doctors:.0f}"
    if r.gap is None:
        gap_txt = "–"
    else:
        gap_txt = f"{r.gap:+.0f}" if r.flagged else "within"
    return lead, doc, gap_txt
