"""The weekly summary as Block Kit: one screen, rendered from the summary's claims.

The short view is the headline, who answered, and at most three claims per section (what changed,
strengths, concerns, hard to reach), a comments line and one short footer on what "favourable" and
an interval mean; everything else (every claim with its evidence, themes, departments, grades)
is behind the "More detail" button. Nothing is stated that is not a claim of
``summary.claims`` (status lines such as "first pulse: nothing to compare yet" excepted).
Long lists are split over sections (Slack cuts one at 3,000 characters) and capped at 50 blocks.
"""

from __future__ import annotations

from bot.insights.claims import Claim
from bot.insights.summary import OTHER_THEMES, DeptRate, ItemScore, Summary, ThemeScore
from questions.themes import LABELS as THEME_LABELS
from storage.auditor import CHANGED

SECTION_MAX = 3000
HEADER_MAX = 150
MAX_BLOCKS = 50
MAX_DEPARTMENTS = 40  # beyond this the export has them; a phone screen does not
PER_SECTION = 3  # claims per section on the short view
SHOW_INTERVALS = "summary_detail"  # action_id of the "More detail" button
MORE = "More detail"
FIRST_PULSE = "First pulse: nothing to compare yet."


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


def _interval(ci: tuple[float, float] | None, unit: str = "", fmt: str = ".0f") -> str:
    return f"95% interval {ci[0]:{fmt}}–{ci[1]:{fmt}}{unit}" if ci else ""


AGREE5 = {1: "strongly disagree", 2: "disagree", 3: "neither", 4: "agree", 5: "strongly agree"}
SECTIONS = [
    ("change", "What changed"),
    ("strength", "Strengths"),
    ("concern", "Concerns"),
    ("reach", "Hard to reach"),
]


def _evidence(c: Claim) -> str:
    """A claim's evidence in one line: estimate's interval, n, periods and the test."""
    e = c.evidence
    fmt = ".1f" if e.unit == "/10" else ".0f"
    unit = " points" if e.unit == "points" else ("" if e.unit == "/10" else "%")
    bits = [_interval(e.interval, unit, fmt)] if e.interval else []
    bits.append(f"n={e.n}" + (f" vs {e.n_before}" if e.n_before else ""))
    if e.periods > 1:
        bits.append(f"{e.periods} pulses")
    bits.append(e.test)
    return "      " + " · ".join(b for b in bits if b)


def _claim_lines(claims: list[Claim], detail: bool) -> list[str]:
    shown = claims if detail else claims[:PER_SECTION]
    lines = []
    for c in shown:
        lines.append(f"• {c.text}")
        if detail and c.kind != "too_few":
            lines.append(_evidence(c))
    if len(claims) > len(shown):
        lines.append(f"…and {len(claims) - len(shown)} more (*{MORE}*)")
    return lines


def _of(s: Summary, key: str) -> list[Claim]:
    if key == "reach":
        return s.claims.of("hard_to_reach") + s.claims.of("too_few")
    return s.claims.of(key)


def _headline(s: Summary, detail: bool) -> str:
    h = s.headline
    if h is None or h.mean is None:
        return "*Headline engagement:* not enough answers this pulse to show."
    line = f"*Headline engagement: {h.mean:.1f} / 10 · {h.label}*"
    if detail and h.ci:
        line += f"\n{_interval(h.ci, '', '.1f')}, n={h.n}"
    return line


def _no_change(s: Summary) -> str:
    if s.claims.pulses < 2:
        return FIRST_PULSE
    if not s.claims.tested:
        return "Nothing asked both this pulse and before with enough answers to compare."
    return (
        f"No change beyond noise ({s.claims.tested} comparisons with earlier pulses, "
        "none both clear and at least the minimum meaningful size)."
    )


def summary_blocks(
    s: Summary, title: str, detail: bool = False, extra: list[dict] | None = None
) -> list[dict]:
    """The whole message; ``detail`` lists every claim with its evidence, and the figures."""
    head = {"type": "header", "text": {"type": "plain_text", "text": _clip(title, HEADER_MAX)}}
    if s.suppressed_reason:
        return [head, _section(s.suppressed_reason)]
    who = s.claims.of("participation")
    body: list[dict] = [_section(_headline(s, detail) + ("\n" + who[0].text if who else ""))]
    for key, name in SECTIONS:
        claims = _of(s, key)
        if key == "change" and not claims:
            body.append(_section(f"*{name}*\n{_no_change(s)}"))
        elif claims:
            body += _sections(name, _claim_lines(claims, detail))
    if s.claims.held_back:
        body.append(
            _context(f"Held back to protect a smaller group: {', '.join(s.claims.held_back)}")
        )
    if _audience_changed(s):
        body.append(_context(AUDIENCE_CHANGED_NOTE))
    if s.comments:
        body.append(_section(_comments_text(s)))
    body += extra or []
    if detail:
        body += _detail(s)
    tail = [] if detail else [_more_button(s.department)]
    tail.append(_context(footer(s.k)))
    room = MAX_BLOCKS - 1 - len(tail)
    if len(body) > room:
        body = body[: room - 1] + [_context("Some sections were left out to fit one message.")]
    return [head, *body, *tail]


def footer(k: int) -> str:
    """The one short explanation of the words and figures, shared by every view."""
    return (
        "_Favourable_: agree or strongly agree. A 95% interval is the range the true figure very "
        "likely lies in. A change is named only when it is beyond noise across all the "
        "comparisons made and at least 5 points (0.5 on 0–10). No figure from fewer than "
        f"{k} people."
    )


def _detail(s: Summary) -> list[dict]:
    """The figures behind the claims: themes, every item, departments and grades."""
    blocks: list[dict] = []
    if s.themes:
        blocks += _sections("Themes (0–100)", [_theme_line(t) for t in s.themes])
    items = [i for i in s.items if not i.info.headline and i.score_100 is not None]
    if items:
        blocks += _sections("Every question this pulse", [_item_line(i) for i in items])
    if s.department is None:
        blocks += _participation(s)
    return blocks


def _item_line(it: ItemScore) -> str:
    unit = "" if it.info.scale == "scale0_10" else "%"
    fmt = ".1f" if it.info.scale == "scale0_10" else ".0f"
    line = f"• {it.info.text} — *{it.display}* (n={it.n}"
    line += f", {_interval(it.ci, unit, fmt)})" if it.ci else ")"
    if it.distribution and it.n:
        line += "\n      " + " · ".join(
            f"{AGREE5[v]} {100 * it.distribution.get(v, 0) / it.n:.0f}%" for v in range(5, 0, -1)
        )
    return line


def _theme_line(t: ThemeScore) -> str:
    name = THEME_LABELS.get(t.theme, t.theme)
    few = ", one question" if t.items < 2 else ""
    ci = f", {_interval(t.ci)}" if t.ci else ""
    return f"• {name}: *{t.score:.0f}*/100 (n={t.n}{few}{ci})"


def _comments_text(s: Summary) -> str:
    """Themes whose count may be shown, with their counts; the rest are not split out (their
    count would be a small group's, or let one be worked out)."""
    label = _k(s.k)
    shown = [f"{theme}: {n}" for theme, n in s.comments.items() if n != label]
    rest = ""
    if len(shown) < len(s.comments):
        others = s.comments.get(OTHER_THEMES, label) != label
        rest = (
            " · themes with few comments are counted together as Other themes, to protect "
            "small groups"
            if others
            else " · not split out by theme, to protect small groups"
        )
    line = f"*Comments this pulse: {s.comments_total}* (read them with `/pulse comments`)"
    return line + ("\n" + " · ".join(shown) if shown else "") + rest


def _more_button(department: str | None) -> dict:
    return {
        "type": "actions",
        "elements": [
            {
                "type": "button",
                "action_id": SHOW_INTERVALS,
                "text": {"type": "plain_text", "text": MORE},
                "value": f"dept:{department}" if department else "all",
            }
        ],
    }


AUDIENCE_CHANGED_NOTE = (
    "No breakdown by department or grade this period: the doctors asked changed since the "
    "previous pulse, so only figures for everyone are published (anonymity against "
    "made-up or moved accounts)."
)


def _audience_changed(s: Summary) -> bool:
    return bool(s.departments) and all(d.reason == CHANGED for d in s.departments)


def _participation(s: Summary) -> list[dict]:
    blocks: list[dict] = []
    if _audience_changed(s):
        return blocks  # the note is in the body already
    if s.departments:
        lines = [f"{d.department}: {_dept_figure(d, s)}" for d in s.departments[:MAX_DEPARTMENTS]]
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
                "Response by grade is held back this pulse: with the department figures it "
                "would single out a small group."
            )
        )
    return blocks


def _k(k: int) -> str:
    from storage.anonymity import k_label

    return k_label(k)


def _dept_figure(d: DeptRate, s: Summary) -> str:
    """Shown: "17 of 24 (71%)". A hidden one says why without any number: fewer than k
    responses, or held back to protect a smaller group (it had k or more)."""
    if d.rate is not None:
        return f"{d.responded} of {d.invited} ({100 * d.rate:.0f}%)"
    if d.responded is not None:
        return f"{d.responded} responded"
    from storage.anonymity import hidden_label

    return hidden_label(d.reason, s.k)


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
        f"{s.respondents} of {s.invited} doctors answered."
    )
