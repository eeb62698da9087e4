"""The checklist workshop page: one landscape PNG with the 14 questions, leaders' ratings, doctors'
scores with intervals, and the gaps, ready for a board or a workshop."""

from __future__ import annotations

import io
import textwrap

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from bot import checklist, gap  # noqa: E402
from bot.core import Core  # noqa: E402
from storage import anonymity  # noqa: E402

INK, MUTED, LEAD, DOC, FLAG = "#1f2933", "#7b8794", "#b45309", "#0b4f6c", "#b91c1c"


def page_png(core: Core, workspace_id: int, team_name: str) -> bytes:
    rows = gap.rows(core, workspace_id)
    view = checklist.leadership_view(core, workspace_id)
    fig = plt.figure(figsize=(16.5, 11.7))  # A4 landscape proportions, large enough to print
    ax = fig.add_axes((0.43, 0.1, 0.44, 0.78))
    for y, r in enumerate(reversed(rows)):
        _row(fig, ax, y, r, core.k)
    ax.set_ylim(-0.7, len(rows) - 0.3)
    ax.set_xlim(0, 102)
    ax.set_yticks([])
    ax.set_xticks([0, 25, 50, 75, 100])
    ax.grid(axis="x", color="#e4e7eb")
    ax.spines[["top", "right", "left"]].set_visible(False)
    ax.set_xlabel(
        "0–100: leaders' rating (1 not in place → 5 embedded) and doctors' pulse score",
        color=MUTED,
        fontsize=11,
    )
    date = core.clock.now().strftime("%-d %B %Y")
    fig.text(
        0.02,
        0.955,
        "Medical engagement checklist: how leaders and doctors see it",
        fontsize=20,
        color=INK,
        weight="bold",
    )
    sub = (
        f"{team_name} · {date} · leaders' view {view.cycle or 'not yet rated'} "
        f"({view.leaders} leader{'s' if view.leaders != 1 else ''}) · "
        f"doctors over the last {gap.WINDOW} pulses · groups under {core.k} not shown"
    )
    fig.text(0.02, 0.925, sub, fontsize=12, color=MUTED)
    handles = [
        plt.Line2D([], [], marker="D", ls="", color=LEAD, ms=9, label="Leaders (team average)"),
        plt.Line2D([], [], marker="o", ls="-", color=DOC, ms=8, label="Doctors, with 95% interval"),
        plt.Line2D(
            [], [], ls="", marker="s", color=FLAG, ms=8, label="Gap beyond the doctors' interval"
        ),
    ]
    fig.legend(
        handles=handles,
        loc="lower left",
        bbox_to_anchor=(0.02, 0.015),
        ncol=3,
        frameon=False,
        fontsize=11,
    )
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return buf.getvalue()


def _row(fig, ax, y: int, r: gap.GapRow, k: int) -> None:
    label = textwrap.fill(f"{_short(r.ref)}  {r.question}", 62)
    ax.text(-2, y, label, ha="right", va="center", fontsize=10.5, color=INK, transform=ax.transData)
    if r.doctors is not None:
        if r.doctors_ci:
            ax.plot(r.doctors_ci, [y, y], color=DOC, lw=2.5, alpha=0.6)
        ax.plot([r.doctors], [y], "o", color=DOC, ms=9)
    if r.leaders is not None:
        ax.plot([r.leaders], [y], "D", color=LEAD, ms=9)
    if r.leaders is not None and r.doctors is not None:
        ax.plot(
            [r.leaders, r.doctors],
            [y, y],
            color=FLAG if r.flagged else MUTED,
            lw=1,
            ls=":" if not r.flagged else "-",
        )
    ax.text(
        102,
        y,
        _figures(r, k),
        va="center",
        fontsize=10.5,
        color=FLAG if r.flagged else INK,
        clip_on=False,
    )


def _short(ref: str) -> str:
    _, group, n = ref.split(":")
    return f"{'O' if group == 'organisations' else 'L'}{n}"


def _figures(r: gap.GapRow, k: int) -> str:
    lead = f"{r.leaders:.0f}" if r.leaders is not None else "–"
    doc = (
        f"{r.doctors:.0f}"
        if r.doctors is not None
        else (anonymity.k_label(k) if r.n else "not asked")
    )
    gap_txt = f"  gap {r.gap:+.0f}" if r.flagged else ""
    return f"L {lead} · D {doc}{gap_txt}"
