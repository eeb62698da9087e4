"""The weekly summary as Block Kit: one message, readable in a minute on a phone.

Order: headline and trend, who answered, strengths, concerns, what changed, hard-to-reach
departments, comments per theme, how to read it. Texts are clipped to Slack's limits.
"""

from __future__ import annotations

from bot.pulses import THEME_LABELS
from bot.summary import ItemScore, Summary

SECTION_MAX = 3000
HEADER_MAX = 150
ARROW = {
    "up": "▲ up",
    "down": "▼ down",
    "no clear change": "no clear change",
    "too few answers to tell": "too few answers to tell",
}


def _clip(text: str, limit: int = SECTION_MAX) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _section(text: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _clip(text)}}


def _context(text: str) -> dict:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": _clip(text)}]}


def _item_line(it: ItemScore) -> str:
    return f"• {it.info.text} — *{it.display}* (n={it.n})"


def _headline(s: Summary, detail: bool) -> str:
    h = s.headline
    if h is None or h.mean is None:
        return "*Headline engagement:* not enough answers yet."
    line = f"*Headline engagement: {h.mean:.1f} / 10 · {h.label}*"
    if detail and h.ci:
        line += f"\n95% interval {h.ci[0]:.1f}–{h.ci[1]:.1f} (n={h.n}); change vs last pulse: {ARROW[h.change]}"
    return line


def summary_blocks(
    s: Summary, title: str, detail: bool = False, extra: list[dict] | None = None
) -> list[dict]:
    blocks: list[dict] = [
        {"type": "header", "text": {"type": "plain_text", "text": _clip(title, HEADER_MAX)}}
    ]
    if s.suppressed_reason:
        blocks.append(_section(s.suppressed_reason))
        return blocks
    rate = f"{100 * s.respondents / s.invited:.0f}%" if s.invited else "n/a"
    who = f"{s.respondents} of {s.invited} doctors responded ({rate})"
    blocks.append(_section(f"{_headline(s, detail)}\n{who}"))
    if s.strengths:
        blocks.append(_section("*Strengths*\n" + "\n".join(_item_line(i) for i in s.strengths)))
    if s.concerns:
        blocks.append(_section("*Concerns*\n" + "\n".join(_item_line(i) for i in s.concerns)))
    changed = s.changes[:6] or [
        "No clear change since the last pulse (differences are within noise)."
    ]
    blocks.append(_section("*What changed*\n" + "\n".join(f"• {c}" for c in changed)))
    thin = [
        THEME_LABELS.get(t.theme, t.theme) for t in s.themes if t.score is not None and t.items < 2
    ]
    if thin:
        blocks.append(_context("Resting on a single question this period: " + ", ".join(thin)))
    if s.department is None:
        blocks += _participation(s)
    if s.comments:
        parts = [
            f"{THEME_LABELS.get(t, 'Other')}: {n}"
            for t, n in sorted(s.comments.items(), key=lambda kv: -kv[1])
        ]
        blocks.append(
            _section(
                "*Comments this period* (read them with `/pulse comments`)\n" + " · ".join(parts)
            )
        )
    blocks += extra or []
    blocks.append(
        _context(
            f"Anonymous: groups under {s.k} respondents are never shown. ▲/▼ only where the 95% "
            "interval of the change excludes zero. `/pulse summary detail` shows the intervals."
        )
    )
    return blocks[:50]


def _participation(s: Summary) -> list[dict]:
    blocks = []
    if s.hard_to_reach:
        blocks.append(_section("*Hard to reach*\n" + "\n".join(f"• {d}" for d in s.hard_to_reach)))
    if s.departments:
        lines = []
        for d in s.departments:
            shown = _dept_figure(d, s.k)
            lines.append(f"{d.department}: {shown}")
        blocks.append(_section("*Response by department*\n" + "\n".join(lines)))
    if s.grades:
        labels = {
            "consultant": "Consultants",
            "sas": "SAS",
            "resident": "Residents",
            "medical_leader": "Medical leaders",
        }
        blocks.append(_context(" · ".join(f"{labels.get(g, g)}: {v}" for g, v in s.grades.items())))
    return blocks


def actions_section(with_actions: set[str], concerns: list[ItemScore]) -> list[dict]:
    """Which themes have a recorded action, and which current concerns have none."""
    concern_themes = list(dict.fromkeys(c.info.theme for c in concerns))
    lacking = [THEME_LABELS.get(t, t) for t in concern_themes if t not in with_actions]
    done = [THEME_LABELS.get(t, t) for t in sorted(with_actions)]
    if not done and not lacking:
        return []
    lines = []
    if done:
        lines.append("Actions recorded for: " + ", ".join(done))
    if lacking:
        lines.append(
            "Concerns with no action yet: "
            + ", ".join(lacking)
            + " (record one with `/pulse action`)"
        )
    return [_section("*You said, we did*\n" + "\n".join(lines))]


def _dept_figure(d, k: int) -> str:
    if d.rate is not None:
        return f"{d.responded} of {d.invited} ({100 * d.rate:.0f}%)"
    if d.small:
        return f"fewer than {k} responses (of {d.invited})"
    return f"not shown, so a smaller group's figure cannot be worked out (of {d.invited})"


def summary_text(s: Summary, title: str) -> str:
    """Notification text for the message (and screen readers)."""
    if s.suppressed_reason or s.headline is None or s.headline.mean is None:
        return f"{title}: not enough answers yet."
    return f"{title}: engagement {s.headline.mean:.1f}/10, {s.headline.label.lower()}; {s.respondents} of {s.invited} doctors responded."
