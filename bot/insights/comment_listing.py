"""Which anonymous comments a leader may read on demand, and under which labels.

Every disclosure decision of ``/pulse comments`` is here: comments only from a period where at
least k people responded (``storage.anonymity``), a department's only when its own figures may
be shown (``summary.shown_department``) and its comments listed on their own
(``storage.published.comment_plan``), and a theme only where the plan labels it. The listener
only shows the lines or the reason.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from bot.admin.command_table import UsageError
from bot.chat.forms import escape
from bot.core import Core
from bot.insights import summary
from questions.themes import LABELS as THEME_LABELS
from storage import anonymity, published, queries

OTHER_THEMES = summary.OTHER_THEMES


@dataclass(frozen=True)
class Listing:
    """Either the comments to show (``head`` and ``lines``) or why there are none (``note``)."""

    note: str | None = None
    head: str = ""
    lines: tuple[str, ...] = ()


def department_named(s, workspace_id: int, wanted: str) -> tuple[str, int]:
    """A department named as the roster spells it, whatever the case."""
    names = queries.department_names(s, workspace_id)
    for dept_id, name in names.items():
        if name.lower() == wanted.lower():
            return name, dept_id
    known = ", ".join(sorted(names.values())) or "none yet (import a roster)"
    raise UsageError(f"there is no department called {wanted!r}. Departments: {known}")


def theme_named(args: list[str]) -> str | None:
    """A theme by its key, its label, or the start of its key; None when none was named."""
    if not args:
        return None
    wanted = " ".join(args).lower()
    for key, label in THEME_LABELS.items():
        if wanted in (key, label.lower()) or key.startswith(wanted):
            return key
    names = ", ".join(f"`{k}`" for k in THEME_LABELS)
    raise UsageError(f"there is no theme called {wanted!r}. Themes: {names}")


def listing(core: Core, workspace_id: int, dept: str | None, theme: str | None) -> Listing:
    """The latest closed period's comments this reader may see, shuffled, or why not."""
    k = core.k
    with core.db.Session() as s:
        periods = queries.closed_periods(s, workspace_id, 3)
        if not periods:
            return Listing("No pulse has closed yet, so there are no comments to read.")
        rid = periods[0].round_id
        dept_id = None
        if dept:
            dept, dept_id = department_named(s, workspace_id, dept)
            round_ids = [p.round_id for p in periods]
            rates = summary.department_rates(queries.participation(s, round_ids), round_ids, k)
            mine = summary.shown_department(rates, dept)
            if mine is None:
                return Listing(summary.department_held_back(dept, k, rates))
            respondents = mine.responded
        else:
            respondents = queries.respondents_per_round(s, [rid]).get(rid, 0)
        cells = queries.comment_cells(s, [rid])
        texts = queries.comment_texts(s, [rid], department_id=dept_id)
    if not anonymity.comments_visible(respondents, k):
        return Listing(
            f"Comments are shown only when at least {k} people responded in the period; "
            f"the latest had {anonymity.k_label(k)}."
        )
    plan = published.comment_plan(cells, k, periods[0].audience_changed)
    if dept_id is not None and dept_id not in plan.listed:
        return Listing(
            f"{dept}'s comments are not listed on their own this period: fewer than {k} of its "
            "doctors commented, or listing them would let a smaller group's comments be picked "
            "out. They are in the trust-wide list, `/pulse comments`."
        )
    lines = comment_lines(texts, plan, theme)
    if lines is None:
        name = THEME_LABELS.get(theme, theme)
        return Listing(
            f"There were {anonymity.k_label(k)} about {name} this period, so they are not listed "
            f"under that theme on their own: they appear under “{OTHER_THEMES}” in `/pulse comments`."
        )
    where = f" from {dept}" if dept else ""
    if not lines:
        about = f" about {THEME_LABELS.get(theme, theme)}" if theme else ""
        return Listing(f"No comments{about}{where} this period.")
    head = (
        f"*{len(lines)} anonymous comments{where}, period from {periods[0].start.day} "
        f"{periods[0].start:%b %Y}* (random order)"
    )
    return Listing(head=head, lines=tuple(lines))


def comment_lines(
    texts: list[tuple[int | None, str | None, str]],
    plan: published.CommentPlan,
    theme: str | None = None,
) -> list[str] | None:
    """The comments to list, shuffled, each under the one label the plan gives its (department,
    theme) cell, the same in every list (others read "Other themes"). None when the theme asked
    for has comments but labels none of them."""
    picked = [
        (plan.label(d, t), text)
        for d, t, text in texts
        if theme is None or plan.label(d, t) == theme
    ]
    if theme is not None and not picked and any(t == theme for _, t, _ in texts):
        return None
    random.SystemRandom().shuffle(picked)
    return [f"• _{_label(t)}_: {escape(text)}" for t, text in picked]


def _label(theme: str | None) -> str:
    return THEME_LABELS.get(theme, theme) if theme else OTHER_THEMES
