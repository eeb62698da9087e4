"""Which workspace a CLI command acts on: always an installed one, never a guess or a typo.

A command that names a workspace that is not installed must stop before it writes anything:
creating the row would make a phantom trust (seeded with admins) and an import into it would put
one trust's doctors where another's admins could see them.

Installed means: in multi-workspace mode, an installation in the OAuth store; in single-workspace
mode, a workspace the app has already heard from (its row), or the bot token's own workspace as
Slack's ``auth.test`` reports it.
"""

from __future__ import annotations

from sqlalchemy import select

from bot.operator_errors import OperatorError, Unavailable
from storage.models import Workspace

NOT_CONNECTED = (
    "Slack is not connected yet (no SLACK_BOT_TOKEN, or SLACK_CLIENT_ID and SLACK_CLIENT_SECRET): "
    "connect it first (README, 'Connect Slack')"
)


def installed_teams(core) -> list[str]:
    """Team IDs this deployment serves, as far as the database knows (no Slack call)."""
    if core.installations is not None:
        return list(core.installations.team_ids())
    with core.db.Session() as s:
        return sorted(s.scalars(select(Workspace.team_id)))


def _token_team(core) -> str:
    """The bot token's workspace (single-workspace mode), asked of Slack."""
    from integrations.slack.gateway import ChatError, Permanent

    if not core.settings.slack_bot_token:
        raise OperatorError(NOT_CONNECTED)
    try:
        return core.gateway("")._call("auth_test")["team_id"]
    except Permanent as err:
        raise OperatorError(f"Slack refused the bot token ({err.error})") from None
    except ChatError as err:
        raise Unavailable(
            f"Slack could not be reached to ask which workspace the bot token belongs to "
            f"({err.error}); try again later, or name a workspace medpulse already knows"
        ) from None


def resolve_team(core, team: str | None) -> str:
    """The installed workspace a command acts on, bootstrapped once; one clear error otherwise.

    With ``team`` None exactly one workspace must be installed, because guessing could write to
    the wrong trust.
    """
    from bot.people.workspaces import ensure_team

    known = installed_teams(core)
    if team is not None and team in known:
        ensure_team(core, team)
        return team
    if core.installations is not None:
        if team is not None:
            raise OperatorError(_not_installed(team, known))
        if len(known) != 1:
            raise OperatorError(_pick_one(known))
        ensure_team(core, known[0])
        return known[0]
    if team is None and len(known) == 1:
        ensure_team(core, known[0])
        return known[0]
    if team is None and len(known) > 1:
        raise OperatorError(_pick_one(known))
    try:
        own = _token_team(core)
    except OperatorError:
        if team is not None and known:  # a typo among known workspaces needs no Slack to say
            raise OperatorError(_not_installed(team, known)) from None
        raise
    if team is not None and team != own:
        raise OperatorError(_not_installed(team, sorted({*known, own})))
    ensure_team(core, own)
    return own


def _not_installed(team: str, known: list[str]) -> str:
    listed = ", ".join(known) if known else "none yet"
    return f"workspace {team!r} is not installed here (installed: {listed}); check --team"


def _pick_one(known: list[str]) -> str:
    if not known:
        return "no workspace is installed yet: install medpulse through /slack/install first"
    return f"several workspaces are installed ({', '.join(known)}): name one with --team T…"
