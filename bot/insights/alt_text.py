"""Alt text for every chart medpulse posts, stating its main figures.

A screen-reader user (and anyone whose Slack does not load images) gets the chart's message in
words: the headline score with its interval and direction, how many doctors it rests on, the
trend's first and last points and the theme scores; for the checklist page, the questions where
leaders and doctors differ. Figures here are the ones the chart shows, so every k rule that
hid a figure from the chart hides it here too.
"""

from __future__ import annotations

from bot.insights.summary import Summary
from questions.themes import LABELS as THEME_LABELS

LIMIT = 1000  # keep well inside what Slack stores for a file's alt text


def _clip(text: str) -> str:
    return text if len(text) <= LIMIT else text[: LIMIT - 1] + "…"


def summary_chart(summary: Summary, title: str) -> str:
    """What the summary chart shows, in one paragraph."""
    parts = [f"Chart: {title}."]
    h = summary.headline
    if h is not None and h.mean is not None:
        interval = f" (95% interval {h.ci[0]:.1f} to {h.ci[1]:.1f})" if h.ci else ""
        parts.append(
            f"Headline engagement {h.mean:.1f} out of 10{interval}, from {h.n} answers; "
            f"direction: {h.label.lower()}."
        )
    elif h is not None:
        parts.append(f"Headline engagement: {h.label.lower()}.")
    shown = [(label, m) for label, m, _ in (h.trend if h else []) if m is not None]
    if len(shown) >= 2:
        (first_label, first), (last_label, last) = shown[0], shown[-1]
        parts.append(
            f"Trend over {len(h.trend)} periods: {first:.1f} in {first_label}, "
            f"{last:.1f} in {last_label}."
        )
    if summary.invited:
        parts.append(f"{summary.respondents} of {summary.invited} doctors responded.")
    themes = [
        f"{THEME_LABELS.get(t.theme, t.theme)} {t.score:.0f}"
        for t in summary.themes
        if t.score is not None
    ]
    if themes:
        parts.append("Theme scores out of 100: " + ", ".join(themes) + ".")
    return _clip(" ".join(parts))


def checklist_page(rows, k: int) -> str:
    """What the checklist page (leaders' ratings beside doctors' scores) shows."""
    rated = [r for r in rows if r.leaders is not None]
    with_doctors = [r for r in rows if r.doctors is not None]
    parts = [
        f"Chart: the medical engagement checklist, {len(rows)} questions, leaders' ratings beside "
        f"doctors' scores on a 0 to 100 scale. Leaders rated {len(rated)}; doctors' scores are "
        f"shown for {len(with_doctors)} (the rest have fewer than {k} answers or were not asked "
        "yet)."
    ]
    flagged = sorted((r for r in rows if r.flagged), key=lambda r: -abs(r.gap))
    if flagged:
        gaps = "; ".join(
            f"{r.question} leaders {r.leaders:.0f}, doctors {r.doctors:.0f}" for r in flagged
        )
        parts.append(f"Gaps beyond the doctors' 95% interval: {gaps}.")
    elif rated and with_doctors:
        parts.append("No gap lies beyond the doctors' 95% interval.")
    return _clip(" ".join(parts))
