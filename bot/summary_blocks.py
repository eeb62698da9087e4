"""The weekly summary as Block Kit: one message, readable in a minute on a phone.

Order: headline and trend, who answered, strengths, concerns, what changed, hard-to-reach
departments, response by department and grade, comments per theme, how to read it. Long lists
are split over several sections (Slack cuts a section at 3,000 characters) and capped, so the
message always stays within Slack's 50 blocks.
"""

from __future__ import annotations

from bot.pulses import THEME_LABELS
from bot.summary import DeptRate, ItemScore, Summary, ThemeScore
from storage.auditor import CHANGED

SECTION_MAX = 3000
HEADER_MAX = 150
MAX_BLOCKS = 50
MAX_DEPARTMENTS = 40  # beyond this the export has them; a phone screen does not
SHOW_INTERVALS = "summary_detail"  # action_id of the "Show intervals" button
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


def _sections(title: str, lines: list[str]) -> list[dict]:
    """A titled list over as many sections as it needs, never cutting a line in two."""
    blocks, chunk = [], [f"*{title}*"]
    for line in lines:
        line = _clip(line, 500)
        if len("\n".join([*chunk, line])) > SECTION_MAX:
            blocks.append(_section("\n".join(chunk)))
            chunk = []
        chunk.append(line)
    blocks.append(_section("\n".join(chunk)))
    return blocks


def _interval(ci: tuple[float, float] | None, unit: str = "") -> str:
    return f" [95%: {ci[0]:.1f}–{ci[1]:.1f}{unit}]" if ci else ""


AGREE5 = {1: "strongly disagree", 2: "disagree", 3: "neither", 4: "agree", 5: "strongly agree"}


def _item_line(it: ItemScore, detail: bool) -> str:
    unit = "" if it.info.scale == "scale0_10" else "%"
    line = f"• {it.info.text} — *{it.display}* (n={it.n})"
    if detail:
        line += _interval(it.ci, unit)
        if it.distribution and it.n:
            line += "\n      " + " · ".join(
                f"{AGREE5[v]} {100 * it.distribution.get(v, 0) / it.n:.0f}%"
                for v in range(5, 0, -1)
            )
    return line


def _theme_line(t: ThemeScore) -> str:
    name = THEME_LABELS.get(t.theme, t.theme)
    few = " · one question" if t.items < 2 else ""
    return (
        f"• {name}: *{t.score:.0f}*/100{_interval(t.ci)} (n={t.n}{few}) · "
        f"vs last: {ARROW[t.change]} · vs last 6: {ARROW[t.baseline_change]}"
    )


def _headline(s: Summary, detail: bool) -> str:
    h = s.headline
    if h is None or h.mean is None:
        return "*Headline engagement:* not enough answers yet."
    line = f"*Headline engagement: {h.mean:.1f} / 10 · {h.label}*"
    if detail:
        ci = f"95% interval {h.ci[0]:.1f}–{h.ci[1]:.1f}, " if h.ci else ""
        line += (
            f"\n{ci}n={h.n} · vs last pulse: {ARROW[h.change]} · "
            f"vs last 6: {ARROW[h.baseline_change]}"
        )
    return line


def summary_blocks(
    s: Summary, title: str, detail: bool = False, extra: list[dict] | None = None
) -> list[dict]:
    """The whole message; ``detail`` adds every interval (the "Show intervals" view)."""
    head = {"type": "header", "text": {"type": "plain_text", "text": _clip(title, HEADER_MAX)}}
    if s.suppressed_reason:
        return [head, _section(s.suppressed_reason)]
    rate = f"{100 * s.respondents / s.invited:.0f}%" if s.invited else "n/a"
    who = f"{s.respondents} of {s.invited} doctors responded ({rate})"
    body: list[dict] = [_section(f"{_headline(s, detail)}\n{who}")]
    if s.strengths:
        body.append(
            _section("*Strengths*\n" + "\n".join(_item_line(i, detail) for i in s.strengths))
        )
    if s.concerns:
        body.append(_section("*Concerns*\n" + "\n".join(_item_line(i, detail) for i in s.concerns)))
    changed = s.changes[:6] or [
        "No clear change since the last pulse (differences are within noise)."
    ]
    body += _sections("What changed", [f"• {c}" for c in changed])
    if detail and s.themes:
        body += _sections("Themes (0–100)", [_theme_line(t) for t in s.themes])
    thin = [THEME_LABELS.get(t.theme, t.theme) for t in s.themes if t.items < 2]
    if thin:
        body.append(_context("Resting on a single question this period: " + ", ".join(thin)))
    if s.department is None:
        body += _participation(s)
    if s.comments:
        body.append(_section(_comments_text(s)))
    body += extra or []
    tail = [] if detail else [_intervals_button(s.department)]
    tail.append(
        _context(
            f"Anonymous: no figure from fewer than {s.k} people, and some groups are held back so "
            "a smaller one cannot be worked out. ▲/▼ only where the 95% interval of the change "
            "excludes zero. `/pulse summary detail` shows the intervals."
        )
    )
    room = MAX_BLOCKS - 1 - len(tail)
    if len(body) > room:
        body = body[: room - 1] + [_context("Some sections were left out to fit one message.")]
    return [head, *body, *tail]


def _comments_text(s: Summary) -> str:
    """Shown themes with their counts; held-back ones named together under the k label."""
    label = _k(s.k)
    shown = [f"{theme}: {n}" for theme, n in s.comments.items() if n != label]
    held = [theme for theme, n in s.comments.items() if n == label]
    if held:
        shown.append(f"{', '.join(held)}: {label} each")
    return (
        f"*Comments this period: {s.comments_total}* (read them with `/pulse comments`)\n"
        + " · ".join(shown)
    )


def _intervals_button(department: str | None) -> dict:
    return {
        "type": "actions",
        "elements": [
            {
                "type": "button",
                "action_id": SHOW_INTERVALS,
                "text": {"type": "plain_text", "text": "Show intervals"},
                "value": f"dept:{department}" if department else "all",
            }
        ],
    }


AUDIENCE_CHANGED_NOTE = (
    "No breakdown by department or grade this period: the doctors asked changed since the "
    "previous pulse, so only figures for everyone are published (anonymity against "
    "made-up or moved accounts)."
)


def _participation(s: Summary) -> list[dict]:
    blocks: list[dict] = []
    if s.hard_to_reach:
        blocks += _sections("Hard to reach", [f"• {d}" for d in s.hard_to_reach])
    if s.departments and all(d.reason == CHANGED for d in s.departments):
        return blocks + [_context(AUDIENCE_CHANGED_NOTE)]
    hidden = [d.department for d in s.departments if not d.shown and d.recorded]
    if hidden:
        blocks.append(
            _context(
                f"Not shown ({_k(s.k)}, or held back to protect a smaller group): "
                + ", ".join(hidden)
            )
        )
    if s.departments:
        lines = [f"{d.department}: {_dept_figure(d, s.k)}" for d in s.departments[:MAX_DEPARTMENTS]]
        more = len(s.departments) - MAX_DEPARTMENTS
        if more > 0:
            lines.append(f"…and {more} more (see `/pulse export`)")
        blocks += _sections("Response by department", lines)
    if s.cross:
        blocks += _sections("By department and grade", s.cross)
    if s.grades:
        blocks.append(_context(" · ".join(f"{g}: {v}" for g, v in s.grades.items())))
    elif s.grades_withheld:
        blocks.append(
            _context(
                "Response by grade is held back this period: with the department figures it would single out a small group."
            )
        )
    return blocks


def _k(k: int) -> str:
    from storage.anonymity import k_label

    return k_label(k)


def _dept_figure(d: DeptRate, k: int) -> str:
    """Shown: "17 of 24 (71%)". Suppressed cells read the k label and nothing else (not even the
    number invited, which together with the totals could pin the hidden count)."""
    if d.rate is not None:
        return f"{d.responded} of {d.invited} ({100 * d.rate:.0f}%)"
    if d.responded is not None:
        return f"{d.responded} responded"
    from storage.anonymity import hidden_label

    return hidden_label(d.reason, k)


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


def summary_text(s: Summary, title: str) -> str:
    """Notification text for the message (and screen readers)."""
    if s.suppressed_reason or s.headline is None or s.headline.mean is None:
        return f"{title}: not enough answers yet."
    return (
        f"{title}: engagement {s.headline.mean:.1f}/10, {s.headline.label.lower()}; "
        f"{s.respondents} of {s.invited} doctors responded."
    )
