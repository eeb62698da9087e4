"""A person's home (Slack App Home, a Teams personal tab): their status and choices, what the
answers add up to, "you said, we did", and for admins the admin part.

Everything a home shows is decided here: which actions a person sees (their own group's, or
all with whom they were for, by ``bot.people.authz``), which results (``results_home``), whether
the admin part appears. An adapter only lays the ``Home`` out.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.admin import home as admin_home
from bot.chat.forms import Button, Input, Note
from bot.chat.views import Section
from bot.core import Core
from bot.insights import results_home
from bot.people import authz
from bot.people import preferences as people
from bot.people.workspaces import ensure_team
from bot.rounds import membership
from bot.rounds.doctor import privacy_notice
from questions.grades import ONE as GRADE_LABELS

WINDOW_LABELS = {
    "": "Any time in working hours (08:00–21:00, weekdays)",
    "morning": "Morning (08:00–10:00)",
    "lunchtime": "Lunchtime (12:00–14:00)",
    "evening": "Evening (18:00–21:00)",
}
INTRO = (
    "A few quick, anonymous questions every week or two, so leaders can see "
    "how engaged doctors feel and act on it."
)
ACTIONS_SHOWN = 5


@dataclass(frozen=True)
class Home:
    status: str
    group: str | None
    opt: Button
    results: tuple[Section | Note, ...]
    choices: tuple[Input, ...]  # named by the action that changes each
    privacy: str
    actions: Section | None  # "you said, we did"
    admin: admin_home.AdminPart | None
    notice: str | None  # shown in the admin part, or on its own for anyone else
    intro: str = INTRO


def home(
    core: Core, team: str, user: str, notice: str | None = None, role_user: str | None = None
) -> Home:
    """``user`` is the person as the audience knows them; ``role_user`` as roles know them,
    where a platform keys the two differently (Teams: the 29: chat ID and the Entra object ID)."""
    ws_id = ensure_team(core, team)
    me = people.me(core, team, user)
    role_user = role_user or user
    admin = admin_home.part(core, team, role_user)
    return Home(
        status="❌ Opted out: you won't get pulses."
        if me.opted_out
        else "✅ You're in: pulses come by DM.",
        group=membership.group_line(membership.group_note(core, team, user)),
        opt=Button("home_optin", "Opt back in", primary=True)
        if me.opted_out
        else Button("home_optout", "Opt out"),
        results=tuple(results_home.parts(core, ws_id, me.department, bool(me.departments))),
        choices=choices(me),
        privacy=privacy_notice(core.k),
        actions=actions_section(core, ws_id, role_user, me),
        admin=admin,
        notice=notice,
    )


def choices(me: people.Me) -> tuple[Input, ...]:
    out = [
        Input(
            "home_window",
            "When should pulses reach you?",
            kind="choice",
            options=tuple(WINDOW_LABELS.items()),
            value=me.window or "",
            placeholder="Choose a time",
        )
    ]
    if me.departments:
        out.append(
            Input(
                "home_department",
                "Your department",
                kind="choice",
                options=tuple((d, d) for d in me.departments[:100]),
                value=me.department or "",
                placeholder="Choose your department",
            )
        )
    out.append(
        Input(
            "home_grade",
            "Your grade",
            kind="choice",
            options=tuple(GRADE_LABELS.items()),
            value=me.grade or "",
            placeholder="Choose your grade",
        )
    )
    return tuple(out)


def actions_section(core: Core, ws_id: int, user: str, me: people.Me) -> Section | None:
    """ "You said, we did": what leaders did in response to doctors, newest first.

    A doctor sees the actions that concern them (the same scope that opens their pulse);
    admins and leaders see every action, with whom it was for.
    """
    from bot.admin import you_said_we_did as actions_log

    with core.db.Session() as s:
        sees_all = authz.allowed(s, ws_id, user, "home-all-actions")
    scope = None if sees_all else (me.department, me.grade)
    recent = actions_log.recent(core, ws_id, ACTIONS_SHOWN, scope)
    if not recent:
        return None
    lines = [f"• {a.created_at:%-d %b}: {a.text}{_for_whom(a) if sees_all else ''}" for a in recent]
    return Section("You said, we did", tuple(lines))


def _for_whom(action) -> str:
    parts = [p for p in (action.department, GRADE_LABELS.get(action.grade)) if p]
    return f" _({', '.join(parts)})_" if parts else ""


def choose(core: Core, team: str, user: str, action_id: str, value: str | None) -> None:
    """A choice made on the home: opting out or in, or one of ``choices``."""
    if action_id in ("home_optout", "home_optin"):
        people.update_me(core, team, user, opted_out=action_id == "home_optout")
    elif action_id == "home_window":
        people.update_me(core, team, user, window=value or None)
    elif action_id == "home_department":
        people.update_me(core, team, user, department=value)
    elif action_id == "home_grade":
        people.update_me(core, team, user, grade=value)
