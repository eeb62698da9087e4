"""What a doctor's answers add up to, for their App Home: the trust's headline trend and their
own department's latest published results.

Why it only renders: every figure here comes from ``summary.build``, the one model behind the
leaders' summary and a department's own view, so the Home shows exactly what a leader could be
shown (the same k, the same auditor decisions, the same held-back groups) and never works a
figure out a second way. Where the leaders' department view is held back, so is the Home's,
with the same reason.
"""

from __future__ import annotations

from bot.chat.forms import Note
from bot.chat.views import Section
from bot.core import Core
from bot.insights import summary
from questions.themes import LABELS as THEME_LABELS

TREND_POINTS = 6  # published headline points shown; the leaders' chart has the rest
PER_SECTION = 3  # claims shown per list, as on the leaders' short view


def _headline(model: summary.Summary) -> list[str]:
    """The headline and who answered, in the words of the leaders' view (its claims)."""
    h = model.headline
    lines = (
        [f"Headline engagement: {h.mean:.1f} / 10 · {h.label}"]
        if h is not None and h.mean is not None
        else ["Headline engagement: not enough answers this pulse to show."]
    )
    return lines + [c.text for c in model.claims.of("participation")]


def trust_lines(model: summary.Summary) -> list[str]:
    """The trust's headline, who answered and the published trend, or why there is none yet."""
    if model.suppressed_reason:
        return [model.suppressed_reason]
    lines = _headline(model)
    lines[0] = f"*{lines[0]}*"
    h = model.headline
    points = [
        f"{label} {mean:.1f}" for label, mean, _ in (h.trend if h else []) if mean is not None
    ]
    if len(points) > 1:
        lines.append("Trend: " + " → ".join(points[-TREND_POINTS:]))
    return lines


def hard_to_reach_line(trust: summary.Summary, department: str) -> str | None:
    """Whether the leaders' summary names the department hard to reach (its own words)."""
    if trust.suppressed_reason:
        return None
    claim = trust.claims.about(f"department:{department}", "hard_to_reach")
    if claim is not None:
        return f"The leaders' summary names it hard to reach: {claim.text}"
    mine = summary.shown_department(trust.departments, department)
    return None if mine is None else "The leaders' summary does not name it hard to reach."


def department_lines(dept: summary.Summary, trust: summary.Summary) -> list[str]:
    """The department's headline, who answered, hard-to-reach status, changes and themes, as
    its leaders' view publishes them."""
    if dept.suppressed_reason:
        return [dept.suppressed_reason]
    lines = _headline(dept)
    status = hard_to_reach_line(trust, dept.department or "")
    if status:
        lines.append(status)
    lines += [f"• {c.text}" for c in dept.claims.of("change")[:PER_SECTION]]
    lines += [
        f"• {THEME_LABELS.get(t.theme, t.theme)}: *{t.score:.0f}*/100 (n={t.n})"
        for t in dept.themes
        if t.score is not None
    ]
    if not dept.themes:
        lines.append("No theme has enough answers from the department to show a score.")
    return lines


def parts(
    core: Core, workspace_id: int, department: str | None, can_choose: bool = True
) -> list[Section | Note]:
    """The results part of a doctor's Home: the trust's section, the department's (or, where
    the trust has departments to choose from, a note to choose one), and what the figures
    follow."""
    trust = summary.build(core, workspace_id)
    period = f" · period from {trust.period}" if trust.period else ""
    out: list[Section | Note] = [
        Section(f"What the answers add up to{period}", tuple(trust_lines(trust)))
    ]
    if department is None and can_choose:
        out.append(Note("Choose your department below to see its own results."))
    elif department is not None and not trust.suppressed_reason:
        dept = summary.build(core, workspace_id, department)
        out.append(Section(department, tuple(department_lines(dept, trust))))
    out.append(
        Note(
            f"Only figures the leaders' summary publishes: none from fewer than {core.k} people, "
            "and groups held back there are held back here."
        )
    )
    return out
