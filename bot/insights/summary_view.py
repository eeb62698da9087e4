"""The weekly summary as the core says it: a ``SummaryView`` built from the summary's claims.

The short view is the headline, who answered, and at most three claims per section (what changed,
strengths, concerns, hard to reach), a comments line and one short footer on what "favourable" and
an interval mean; everything else (every claim with its evidence, themes, departments, grades)
is in the detailed view, which a "More detail" action asks for. Nothing is stated that is not a
claim of ``summary.claims`` (status lines such as "first pulse: nothing to compare yet" excepted).
Every platform draws this one view (Slack: ``integrations.slack.summary_blocks``); none of them
decides a word or a figure of it.
"""

from __future__ import annotations

from bot.chat.views import Section, SummaryView
from bot.insights.claims import Claim
from bot.insights.gap import FLAGGED_TITLE as GAP_TITLE
from bot.insights.summary import OTHER_THEMES, DeptRate, ItemScore, Summary, ThemeScore
from questions.themes import LABELS as THEME_LABELS
from storage.auditor import CHANGED

MAX_DEPARTMENTS = 40  # beyond this the export has them; a phone screen does not
PER_SECTION = 3  # claims per section on the short view
MORE = "More detail"
FIRST_PULSE = "First pulse: nothing to compare yet."


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


def summary_view(
    s: Summary,
    title: str,
    detail: bool = False,
    extra: tuple[Section, ...] = (),
    preface: str = "",
) -> SummaryView:
    """The whole summary; ``detail`` lists every claim with its evidence, and the figures.
    ``extra``: further parts for a trust's summary (perception gap, "you said, we did")."""
    fallback = summary_text(s, title)
    if s.suppressed_reason:
        return SummaryView(title, s.suppressed_reason, (), fallback, preface=preface)
    who = s.claims.of("participation")
    headline = _headline(s, detail) + ("\n" + who[0].text if who else "")
    parts: list[Section] = []
    for key, name in SECTIONS:
        claims = _of(s, key)
        if key == "change" and not claims:
            parts.append(Section(name, (_no_change(s),)))
        elif claims:
            parts.append(Section(name, tuple(_claim_lines(claims, detail))))
    if s.claims.held_back:
        held = f"Held back to protect a smaller group: {', '.join(s.claims.held_back)}"
        parts.append(Section("", (held,), note=True))
    if _audience_changed(s):
        parts.append(Section("", (AUDIENCE_CHANGED_NOTE,), note=True))
    if s.comments:
        parts.append(Section("", (_comments_text(s),)))
    parts += extra
    if detail:
        parts += _detail(s)
    more = None if detail else (f"dept:{s.department}" if s.department else "all")
    return SummaryView(
        title, headline, tuple(parts), fallback, footer(s.k), preface=preface, more_detail=more
    )


def footer(k: int) -> str:
    """The one short explanation of the words and figures, shared by every view."""
    return (
        "_Favourable_: agree or strongly agree. A 95% interval is the range the true figure very "
        "likely lies in. A change is named only when it is beyond noise across all the "
        "comparisons made and at least 5 points (0.5 on 0–10). No figure from fewer than "
        f"{k} people."
    )


def _detail(s: Summary) -> list[Section]:
    """The figures behind the claims: themes, every item, departments and grades."""
    parts: list[Section] = []
    if s.themes:
        parts.append(Section("Themes (0–100)", tuple(_theme_line(t) for t in s.themes)))
    items = [i for i in s.items if not i.info.headline and i.score_100 is not None]
    if items:
        parts.append(Section("Every question this pulse", tuple(_item_line(i) for i in items)))
    if s.department is None:
        parts += _participation(s)
    return parts


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


AUDIENCE_CHANGED_NOTE = (
    "No breakdown by department or grade this period: the doctors asked changed since the "
    "previous pulse, so only figures for everyone are published (anonymity against "
    "made-up or moved accounts)."
)


def _audience_changed(s: Summary) -> bool:
    return bool(s.departments) and all(d.reason == CHANGED for d in s.departments)


def _participation(s: Summary) -> list[Section]:
    if _audience_changed(s):
        return []  # the note is in the body already
    parts: list[Section] = []
    if s.departments:
        lines = [f"{d.department}: {_dept_figure(d, s)}" for d in s.departments[:MAX_DEPARTMENTS]]
        more = len(s.departments) - MAX_DEPARTMENTS
        if more > 0:
            lines.append(f"…and {more} more (see `/pulse export`)")
        parts.append(Section("Response by department", tuple(lines)))
    if s.cross:
        parts.append(Section("By department and grade", tuple(s.cross)))
    if s.grades:
        parts.append(Section("", (" · ".join(f"{g}: {v}" for g, v in s.grades.items()),), True))
    elif s.grades_withheld:
        withheld = (
            "Response by grade is held back this pulse: with the department figures it "
            "would single out a small group."
        )
        parts.append(Section("", (withheld,), note=True))
    return parts


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


def actions_part(with_actions: set[str], concerns: list[ItemScore]) -> tuple[Section, ...]:
    """Which themes have a recorded action, and which current concerns have none."""
    concern_themes = list(dict.fromkeys(c.info.theme for c in concerns))
    lacking = [THEME_LABELS.get(t, t) for t in concern_themes if t not in with_actions]
    done = [THEME_LABELS.get(t, t) for t in sorted(with_actions)]
    if not done and not lacking:
        return ()
    lines = ["*You said, we did*"]
    if done:
        lines.append("Actions recorded for: " + ", ".join(done))
    if lacking:
        lines.append(
            "Concerns with no action yet: "
            + ", ".join(lacking)
            + " (record one with `/pulse action`)"
        )
    return (Section("", tuple(lines)),)


def gap_part(lines: list[str]) -> tuple[Section, ...]:
    """The perception gap's few widest flagged rows (``bot.insights.gap.gap_line``)."""
    return (Section("", (GAP_TITLE, *lines)),) if lines else ()


def summary_text(s: Summary, title: str) -> str:
    """Notification text for the message (and screen readers)."""
    if s.suppressed_reason or s.headline is None or s.headline.mean is None:
        return f"{title}: not enough answers yet."
    return (
        f"{title}: engagement {s.headline.mean:.1f}/10, {s.headline.label.lower()}; "
        f"{s.respondents} of {s.invited} doctors answered."
    )
