"""The summary chart: headline trend over the last 12 periods, and theme scores with intervals.

Drawn with matplotlib's Agg backend (no display needed). Sized for a phone screen in Slack: two
panels stacked, large type, intervals drawn as bands/whiskers so noise looks like noise.
"""

from __future__ import annotations

import io
import textwrap

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from bot.summary import Summary  # noqa: E402

INK, MUTED, ACCENT, BAND = "#1f2933", "#7b8794", "#0b4f6c", "#c5dce6"
MIN_ROWS = 3  # the themes panel never shrinks below this many rows


def _trend(ax, summary: Summary) -> None:
    points = summary.headline.trend if summary.headline else []
    xs = list(range(len(points)))
    shown = [(x, m, ci) for x, (_, m, ci) in zip(xs, points, strict=True) if m is not None]
    if shown:
        sx = [x for x, _, _ in shown]
        ax.fill_between(
            sx,
            [ci[0] for _, _, ci in shown],
            [ci[1] for _, _, ci in shown],
            color=BAND,
            lw=0,
            label="95% interval",
        )
        ax.plot(sx, [m for _, m, _ in shown], color=ACCENT, lw=2.5, marker="o", ms=6, label="Mean")
        last_x, last_m, _ = shown[-1]
        ax.annotate(
            f"{last_m:.1f}",
            (last_x, last_m),
            textcoords="offset points",
            xytext=(0, 10),
            ha="center",
            fontsize=13,
            color=INK,
            weight="bold",
        )
    for x, (_, m, _) in zip(xs, points, strict=True):
        if m is None:
            ax.annotate("too\nfew", (x, 0.4), ha="center", fontsize=8, color=MUTED)
    ax.set_xticks(xs, [label for label, _, _ in points], rotation=45, ha="right", fontsize=9)
    ax.set_ylim(0, 10)
    ax.set_ylabel("0–10", color=MUTED)
    label = summary.headline.label if summary.headline else "No data"
    ax.set_title(
        f"Headline engagement (0–10): {label}", loc="left", fontsize=14, color=INK, weight="bold"
    )
    if shown:
        ax.legend(loc="lower left", frameon=False, fontsize=9)
    else:
        ax.text(
            0.5, 0.5, "Not enough answers yet", transform=ax.transAxes, ha="center", color=MUTED
        )


def _themes(ax, summary: Summary) -> None:
    """Horizontal bars with the label above each bar, so long theme names keep the plot wide.

    The axis always has room for MIN_ROWS rows, so one theme does not become one huge bar.
    """
    from bot.pulses import THEME_LABELS

    rows = sorted((t for t in summary.themes if t.score is not None), key=lambda t: t.score)
    for y, t in enumerate(rows):
        ax.barh(y, t.score, color=BAND, height=0.42)
        if t.ci:
            err = [[t.score - t.ci[0]], [t.ci[1] - t.score]]
            ax.errorbar(t.score, y, xerr=err, fmt="o", color=ACCENT, capsize=4, ms=5)
        arrow = {"up": "  ▲ up", "down": "  ▼ down"}.get(t.change, "")
        few = "  (one question)" if t.items < 2 else ""
        ax.text(
            0,
            y + 0.33,
            THEME_LABELS.get(t.theme, t.theme) + few,
            fontsize=10.5,
            color=INK,
            va="bottom",
        )
        ax.text(102, y, f"{t.score:.0f}{arrow}", va="center", fontsize=11, color=INK)
    ax.set_yticks([])
    top = len(rows) - 0.1  # rows hang from the top, however few there are
    ax.set_ylim(top - max(len(rows), MIN_ROWS) - 0.5, top)
    ax.set_xlim(0, 122)
    ax.set_xticks([0, 25, 50, 75, 100])
    ax.set_xlabel("Score 0–100 (higher is better) · whiskers: 95% interval", color=MUTED)
    ax.set_title("Themes this period", loc="left", fontsize=14, color=INK, weight="bold")
    if not rows:
        ax.text(50, 2, "Not enough answers yet", ha="center", color=MUTED, fontsize=12)


def _title_lines(title: str, width: int = 50) -> str:
    """The title as at most three short lines (the period on its own), so nothing is cut off
    on a phone, which shows the image about 400 px wide."""
    head, sep, period = title.partition(" · period from ")
    lines = textwrap.wrap(head, width)[:2]
    if sep:
        lines.append(f"Period from {period}")
    return "\n".join(lines)


def summary_png(summary: Summary, title: str) -> bytes:
    """The chart as PNG bytes, 880 px wide (a 6-11 inch tall image): trend on top, themes below."""
    rows = max(MIN_ROWS, sum(t.score is not None for t in summary.themes))
    trend_h, themes_h = 3.8, 1.0 + 0.62 * rows  # inches: the image grows with the themes
    fig, (top, bottom) = plt.subplots(
        2,
        1,
        figsize=(8, trend_h + themes_h + 1.4),
        gridspec_kw={"height_ratios": [trend_h, themes_h]},
    )
    title = _title_lines(title)
    fig.suptitle(title, fontsize=15, color=INK, x=0.02, ha="left")
    for ax in (top, bottom):
        ax.spines[["top", "right"]].set_visible(False)
        ax.tick_params(colors=INK)
    _trend(top, summary)
    _themes(bottom, summary)
    fig.text(
        0.02,
        0.01,
        f"No figure from fewer than {summary.k} people. ▲▼ only where the change is beyond noise.",
        fontsize=8.5,
        color=MUTED,
    )
    fig.tight_layout(rect=(0, 0.03, 1, 1))  # tight_layout leaves room for the suptitle itself
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return buf.getvalue()
