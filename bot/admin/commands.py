"""The /pulse command language, on any platform: ``parse`` the text, ``run`` it.

An adapter's listener does four things: acknowledge, ``parse(text)``, ``run(...)`` with its
``Conversation``, and let the conversation draw the replies. Everything else (which subcommands
exist, their words, who may run them: ``bot.people.authz``; what they do) is here and in the
subcommand modules, so a Teams bot answers ``/pulse status`` exactly as Slack does.
"""

from __future__ import annotations

import logging
import shlex

from bot.admin import (
    command_table,
    question_commands,
    region_commands,
    role_commands,
    setup_commands,
)
from bot.admin.command_table import (
    COMMANDS,
    Command,
    Conversation,
    Ctx,
    Spec,
    UsageError,
    help_text,
    unknown_reply,
    usage_of,
)
from bot.admin.operations import AdminError
from bot.core import Core
from bot.insights import leadership_commands, report_commands, share_command
from bot.people import authz

__all__ = ["COMMANDS", "CONTINUED", "Command", "help_text", "parse", "run", "usage_of"]

log = logging.getLogger("medpulse.commands")

# The subcommand modules, in the order help lists them (importing them fills COMMANDS).
MODULES = (
    command_table,  # help
    setup_commands,
    question_commands,
    role_commands,
    report_commands,
    leadership_commands,
    share_command,
    region_commands,
)


def _in_help_order() -> None:
    """Imports register in whatever order they run; help lists by MODULES, then definition."""
    rank = {m.__name__: i for i, m in enumerate(MODULES)}
    specs = sorted(COMMANDS.values(), key=lambda c: rank.get(c.run.__module__, len(rank)))
    COMMANDS.clear()
    COMMANDS.update((c.name, c) for c in specs)


_in_help_order()
CONTINUED = command_table.CONTINUED


def parse(text: str | None) -> Command:
    """Split ``/pulse`` text into a lower-cased subcommand and its arguments.

    Quotes group words (``department:"Emergency Medicine"``); an unbalanced quote falls back
    to plain whitespace splitting rather than failing. No text at all asks for help.
    """
    raw = (text or "").strip()
    try:
        parts = shlex.split(raw)
    except ValueError:
        parts = raw.split()
    if not parts:
        return Command("help", [], raw)
    name = parts[0].lower()
    args = parts[1:]
    if name == "send" and args and args[0].lower() == "now":
        args = args[1:]
    return Command(name, args, raw)


def run(
    core: Core, team: str, user: str, workspace_id: int, cmd: Command, chat: Conversation
) -> None:
    """Run one command for ``user``: unknown ones get the nearest name and help, refused ones
    the refusal (nothing runs), and every outcome, even a bug, ends in one readable reply."""
    spec = COMMANDS.get(cmd.name)
    if spec is None:
        chat.say(unknown_reply(cmd.name))
        return
    with core.db.Session() as s:
        ok = authz.allowed(s, workspace_id, user, spec.name)
    if not ok:
        chat.say(authz.refusal(spec.name))
        return
    _run(Ctx(core, team, user, workspace_id, cmd, chat), spec)


def _run(ctx: Ctx, spec: Spec) -> None:
    try:
        spec.run(ctx)
    except UsageError as exc:
        ctx.say(f"⚠️ {exc}\n{usage_of(spec.name)}")
    except AdminError as exc:
        ctx.say(f"⚠️ {exc}")
    except Exception as exc:  # noqa: BLE001 - log a bug for us, never show a person a traceback
        problem = ctx.chat.explain(exc)
        if problem is None:
            log.exception("/pulse %s failed", spec.name)
            problem = (
                f"⚠️ Something went wrong on our side running `/pulse {spec.name}`; nothing "
                "more was changed. Try again in a minute, and tell your admin if it keeps happening."
            )
        ctx.say(problem)
