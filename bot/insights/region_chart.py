"""The regional comparison's chart: response rate and headline score by trust, and the
specialties with a regional figure, each bar with its 95% interval and n, names on the left so
they never overlap.

It draws the ``region.Comparison`` and nothing else: a trust whose own summary holds its figure
back gets no bar and is named underneath with "not shown"; a specialty under three trusts is
listed in words, never drawn.
"""

from __future__ import annotations

import io
import textwrap

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from bot.insights.charts import ACCENT, BAND, INK, MUTED  # noqa: E402
from bot.insights.region import MIN_TRUSTS, Comparison, title  # noqa: E402

HARD = "#b45309"
ROW = 0.42  # inches per bar


def _bars(ax, names, values, cis, ns, top: float, unit: str, colours=None) -> None:
    """Horizontal bars, best first from the top, with interval whiskers and 'n=' beside each."""
    ys = list(range(len(names)))[::-1]
    errs = [
        [v - lo for v, (lo, _) in zip(values, cis, strict=True)],
        [hi - v for v, (_, hi) in zip(values, cis, strict=True)],
    ]
    ax.barh(ys, values, color=colours or BAND, edgecolor=ACCENT, height=0.6)
    ax.errorbar(values, ys, xerr=errs, fmt="none", ecolor=INK, capsize=3, lw=1)
    for y, v, (_, hi), n in zip(ys, values, cis, ns, strict=True):
        ax.text(min(hi, top) + top * 0.015, y, f"{v:.{1 if top == 10 else 0}f}{unit}  n={n}",
                va="center", fontsize=8, color=MUTED)  # fmt: skip
    ax.set_yticks(ys, names, fontsize=9)
    ax.set_xlim(0, top * 1.32)  # room for the labels right of the whiskers
    ax.set_xticks([top * i / 5 for i in range(6)])  # the scale stops at its top
    ax.spines["bottom"].set_bounds(0, top)
    ax.spines[["top", "right"]].set_visible(False)


def _panels(c: Comparison) -> list[tuple]:
    """(title, names, values, intervals, n, scale top, unit, colours) of each panel with bars."""
    shown = [t for t in c.trusts if not t.held]
    headed = [t for t in shown if t.headline is not None]
    rows = c.specialties
    panels = [
        ("Response rate by trust (latest pulse)", [textwrap.shorten(t.name, 34) for t in shown],
         [t.rate for t in shown], [t.rate_ci for t in shown], [t.invited for t in shown], 100,
         "%", None),
        ("Headline engagement by trust (0–10)", [textwrap.shorten(t.name, 34) for t in headed],
         [t.headline for t in headed], [t.headline_ci for t in headed],
         [t.headline_n for t in headed], 10, "", None),
        ("Response rate by specialty, across trusts",
         [f"{textwrap.shorten(r.specialty, 30)}\nhard to reach in {r.hard_to_reach or 'none'} "
          f"of {r.trusts}" for r in rows],
         [r.rate for r in rows], [r.rate_ci for r in rows], [r.invited for r in rows], 100, "%",
         [HARD if r.hard_to_reach else BAND for r in rows]),
    ]  # fmt: skip
    return [p for p in panels if p[1]]


def _notes(c: Comparison) -> list[str]:
    """What the chart does not draw, and how to read it, wrapped to the image's width."""
    notes = [
        f"{t.name}: not shown (its own summary holds its figures back)" for t in c.trusts if t.held
    ]
    if c.waiting:
        notes.append(f"Not in specialty figures until their next pulse: {', '.join(c.waiting)}")
    if c.too_few:
        notes.append(f"No regional figure (fewer than {MIN_TRUSTS} trusts): {', '.join(c.too_few)}")
    notes.append(
        "Whiskers: 95% intervals; n = doctors asked (response rates) or answers (headline); "
        "orange: hard to reach in at least one trust. Each trust's figures are those its own "
        f"summary publishes; a specialty pools published department figures from {MIN_TRUSTS}+ "
        f"trusts. No figure from fewer than {c.k} people."
    )
    return [line for m in notes for line in textwrap.wrap(m, 105)]


def png(c: Comparison) -> bytes:
    """The chart as PNG bytes, 880 px wide: a panel of bars per figure shown, notes below."""
    panels, notes = _panels(c), _notes(c)
    notes_h = 0.2 * len(notes) + 0.4
    heights = [max(1.3, ROW * (1.4 if p[7] else 1.0) * len(p[1]) + 0.8) for p in panels] or [1.0]
    fig = plt.figure(figsize=(8, sum(heights) + notes_h + 1.0))
    grid = fig.add_gridspec(len(heights), 1, height_ratios=heights)
    fig.suptitle(title(c), fontsize=13, color=INK, x=0.02, ha="left")
    for i, (name, *bars) in enumerate(panels):
        ax = fig.add_subplot(grid[i, 0])
        _bars(ax, *bars)
        ax.set_title(name, loc="left", fontsize=10, color=INK)
    if not panels:
        fig.text(0.02, 0.5, "No trust in the region publishes figures yet.", color=INK)
    fig.text(0.02, 0.01, "\n".join(notes), fontsize=8, color=MUTED, va="bottom")
    fig.tight_layout(rect=(0, notes_h / fig.get_figheight(), 1, 0.97))
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return buf.getvalue()


def alt(c: Comparison) -> str:
    """The chart's figures in words, for screen readers (only what the chart draws)."""
    shown = [t for t in c.trusts if not t.held]
    parts = [f"Chart: {title(c)}."]
    if shown:
        parts.append(
            "Response rate by trust: "
            + "; ".join(f"{t.name} {t.rate:.0f}% of {t.invited}" for t in shown)
            + "."
        )
    headed = [t for t in shown if t.headline is not None]
    if headed:
        parts.append(
            "Headline engagement out of 10: "
            + "; ".join(f"{t.name} {t.headline:.1f}" for t in headed)
            + "."
        )
    if c.specialties:
        parts.append(
            "Response rate by specialty across trusts: "
            + "; ".join(
                f"{r.specialty} {r.rate:.0f}%, hard to reach in {r.hard_to_reach} of {r.trusts}"
                for r in c.specialties
            )
            + "."
        )
    text = " ".join(parts)
    return text if len(text) <= 1000 else text[:999] + "…"
