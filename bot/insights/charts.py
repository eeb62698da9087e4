"""The summary chart: the headline trend, and each theme's trend over the last periods, every
point with its 95% interval and the number of answers behind it.

Drawn with matplotlib's Agg backend (no display needed), sized for a phone in Slack. The figure
is built apart from its encoding (``summary_figure``, then ``summary_png``) so that tests read
what the chart says (titles, labels, values, intervals, n) rather than only that a PNG decodes;
it is a plain ``Figure``, not pyplot's, so no global state is left behind. The chart
renders the summary's claims and figures and nothing else: an arrow marks a theme only where the
summary claims its change; a panel is drawn only where there is something to draw, and what is
missing is said in words underneath; intervals are clipped to the scale by the summary model.
"""

from __future__ import annotations

import io
import textwrap

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from bot.insights.summary import Summary

INK, MUTED, ACCENT, BAND = "#1f2933", "#7b8794", "#0b4f6c", "#c5dce6"
UP, DOWN = "#1d7a46", "#b91c1c"
COLS = 2  # theme panels per row
DPI = 110


def _claimed(summary: Summary, subject: str) -> str | None:
    claim = summary.claims.about(subject)
    return claim.direction if claim else None


def _n_labels(ax, xs, ys, ns, below: float) -> None:
    for x, y, n in zip(xs, ys, ns, strict=True):
        ax.annotate(f"n={n}", (x, y), textcoords="offset points", xytext=(0, below),
                    ha="center", fontsize=7.5, color=MUTED)  # fmt: skip


def _trend(ax, summary: Summary) -> None:
    h = summary.headline
    points = h.trend
    ns = h.trend_n or [None] * len(points)
    xs = list(range(len(points)))
    shown = [
        (x, m, ci, n) for x, (_, m, ci), n in zip(xs, points, ns, strict=True) if m is not None
    ]
    sx = [x for x, *_ in shown]
    ax.fill_between(sx, [ci[0] for _, _, ci, _ in shown], [ci[1] for _, _, ci, _ in shown],
                    color=BAND, lw=0, label="95% interval")  # fmt: skip
    ax.plot(sx, [m for _, m, _, _ in shown], color=ACCENT, lw=2.5, marker="o", ms=6, label="Mean")
    _n_labels(ax, sx, [ci[0] for _, _, ci, _ in shown], [n for *_, n in shown], -11)
    last_x, last_m, _, _ = shown[-1]
    ax.annotate(f"{last_m:.1f}", (last_x, last_m), textcoords="offset points", xytext=(0, 10),
                ha="center", fontsize=13, color=INK, weight="bold")  # fmt: skip
    # A missing point may be too few answers, held back for a smaller group, or a changed
    # audience: "not shown" is true of all three (the summary's text says which).
    for x, (_, m, _) in zip(xs, points, strict=True):
        if m is None:
            ax.annotate("not\nshown", (x, 5.0), ha="center", va="center", fontsize=8, color=MUTED)
    ax.set_xticks(xs, [label for label, _, _ in points], rotation=45, ha="right", fontsize=9)
    ax.set_ylim(0, 10)
    ax.set_ylabel("0–10", color=MUTED)
    ax.set_title(f"Headline engagement (0–10): {h.label}", loc="left", fontsize=14, color=INK,
                 weight="bold")  # fmt: skip
    ax.legend(loc="lower left", frameon=False, fontsize=9)


def _theme_panel(ax, name: str, points, direction: str | None) -> None:
    xs = list(range(len(points)))
    ys = [m for _, m, _, _ in points]
    lo = [m - ci[0] if ci else 0.0 for _, m, ci, _ in points]
    hi = [ci[1] - m if ci else 0.0 for _, m, ci, _ in points]
    ax.errorbar(xs, ys, yerr=[lo, hi], fmt="o-", color=ACCENT, ecolor="#8fb3c4", capsize=3,
                ms=5, lw=1.8)  # fmt: skip
    _n_labels(ax, xs, [y - d for y, d in zip(ys, lo, strict=True)], [n for *_, n in points], -10)
    ax.set_ylim(-12, 100)
    ax.set_yticks([0, 50, 100])
    ax.set_xlim(-0.5, max(len(points), 2) - 0.5)
    ax.set_xticks(xs, [label for label, *_ in points], fontsize=7.5, rotation=30, ha="right")
    mark = {"up": (" ▲ rising", UP), "down": (" ▼ falling", DOWN)}.get(direction or "")
    title = textwrap.fill(name, 34)
    ax.set_title(title, loc="left", fontsize=10.5, color=INK)
    if mark:
        ax.text(1.0, 1.02, mark[0], transform=ax.transAxes, ha="right", va="bottom",
                fontsize=10.5, color=mark[1], weight="bold")  # fmt: skip


def _missing(summary: Summary) -> list[str]:
    """What the chart cannot show, in words (instead of empty panels)."""
    from questions.themes import LABELS as THEME_LABELS

    out = []
    h = summary.headline
    if h is None or not any(m is not None for _, m, _ in h.trend):
        out.append("Headline engagement: not enough answers to show yet.")
    absent = [THEME_LABELS[t] for t in THEME_LABELS if t not in summary.theme_trend]
    if absent:
        out.append("No theme figure yet (not asked, or fewer than "
                   f"{summary.k} answers) for: " + ", ".join(absent) + ".")  # fmt: skip
    return out


def _title_lines(title: str, width: int = 50) -> str:
    """The title in short lines (the period on its own), so nothing is cut off on a phone,
    which shows the image about 400 px wide."""
    head, sep, period = title.partition(" · period from ")
    lines = textwrap.wrap(head, width)
    if sep:
        lines.append(f"Period from {period}")
    return "\n".join(lines)


def summary_png(summary: Summary, title: str) -> bytes:
    """The chart as PNG bytes, 880 px wide (8 in at 110 dpi)."""
    buf = io.BytesIO()
    summary_figure(summary, title).savefig(buf, format="png", dpi=DPI)
    return buf.getvalue()


def summary_figure(summary: Summary, title: str) -> Figure:
    """The chart before encoding: headline trend on top (when there is one), then a panel per
    theme with figures, then in words whatever could not be drawn."""
    from questions.themes import LABELS as THEME_LABELS

    has_trend = summary.headline is not None and any(
        m is not None for _, m, _ in summary.headline.trend
    )
    themes = [t for t in THEME_LABELS if t in summary.theme_trend]
    themes += [t for t in summary.theme_trend if t not in THEME_LABELS]
    theme_rows = -(-len(themes) // COLS)
    missing = _missing(summary)
    heights = ([3.6] if has_trend else []) + [2.3] * theme_rows
    notes_h = 0.35 * sum(len(textwrap.wrap(m, 110)) for m in missing) + 0.9
    fig = Figure(figsize=(8, sum(heights) + notes_h + 1.3))
    FigureCanvasAgg(fig)  # tight_layout measures text with the same renderer that draws it
    grid = fig.add_gridspec(max(len(heights), 1), COLS, height_ratios=heights or [1])
    fig.suptitle(_title_lines(title), fontsize=15, color=INK, x=0.02, ha="left")
    axes = []
    if has_trend:
        axes.append(fig.add_subplot(grid[0, :]))
        _trend(axes[-1], summary)
    offset = 1 if has_trend else 0
    for i, theme in enumerate(themes):
        ax = fig.add_subplot(grid[offset + i // COLS, i % COLS])
        axes.append(ax)
        _theme_panel(ax, THEME_LABELS.get(theme, theme), summary.theme_trend[theme],
                     _claimed(summary, f"theme:{theme}"))  # fmt: skip
    for ax in axes:
        ax.spines[["top", "right"]].set_visible(False)
        ax.tick_params(colors=INK)
    foot = [
        *missing,
        "Band and whiskers: 95% intervals; n = answers behind each point. Themes on 0–100 "
        "(higher is better). ▲▼ only where the summary names a change: beyond noise across all "
        f"its comparisons, and at least 5 points. No figure from fewer than {summary.k} people.",
    ]
    text = "\n".join(line for m in foot for line in textwrap.wrap(m, 110))
    fig.text(0.02, 0.01, text, fontsize=8.5, color=MUTED, va="bottom")
    fig.tight_layout(rect=(0, notes_h / fig.get_figheight(), 1, 1))
    return fig
