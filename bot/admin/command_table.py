"""The /pulse subcommand table, and what a subcommand is given to run with.

A subcommand is a function of a ``Ctx``: the core, who typed it in which workspace, its
arguments, and a ``Conversation`` (the platform's side: how to answer, open a form, find the
channel or person typed). Modules of subcommands (``bot.admin.setup_commands``,
``question_commands``, ``role_commands``, ``bot.insights.report_commands``,
``leadership_commands``) add themselves to ``COMMANDS`` with ``@command``; help is generated
from it, and ``bot.admin.commands`` parses, authorises and runs. Words and authorisation are
therefore the same on every platform; only the Conversation differs.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from bot.chat.forms import Notice
from bot.chat.gateway import Member
from bot.chat.views import FormView
from bot.core import Core
from bot.people import authz


class UsageError(Exception):
    """Wrong arguments: answered with the problem and the usage."""


@dataclass(frozen=True)
class Command:
    """What was typed after ``/pulse``: a lower-cased subcommand and its arguments."""

    name: str
    args: list[str]
    raw: str


class Conversation(Protocol):
    """The platform's side of one command: the adapter implements it (Slack: ack, then the
    response URL; ephemeral throughout)."""

    def say(self, text: str) -> None:
        """One reply only the person who typed the command sees."""
        ...

    def open_form(self, form: FormView | Notice) -> bool:
        """Open a form; False when this command came from where none can be opened."""
        ...

    def channel(self, token: str) -> tuple[str, str]:
        """A channel as typed (mention, name or ID) -> (id, name), once the bot is in it;
        raises UsageError (not a channel) or AdminError (cannot find or see it)."""
        ...

    def person(self, token: str) -> Member:
        """A person as typed -> who they are; raises UsageError or AdminError."""
        ...

    def send_file(self, note: str, data: bytes, filename: str, title: str, alt: str) -> None:
        """A file in the person's direct conversation with the bot."""
        ...

    def workspace_name(self) -> str:
        """The workspace's name as the platform knows it ("" when it cannot say)."""
        ...

    def mention(self, user_id: str) -> str | None:
        """How to name a person in a reply, or None when ``user_id`` is not a person's ID."""
        ...

    def link_ids(self, text: str) -> str:
        """``text`` (already escaped) with any user and channel IDs in it shown as mentions."""
        ...

    def explain(self, exc: Exception) -> str | None:
        """A platform refusal in one line for the person, or None for a bug of ours."""
        ...


CONTINUED = "_(continued below)_"


@dataclass
class Ctx:
    core: Core
    team: str
    user: str
    workspace_id: int
    command: Command
    chat: Conversation

    @property
    def args(self) -> list[str]:
        return self.command.args

    def say(self, text: str) -> None:
        self.chat.say(text)

    def say_long(self, lines: list[str], limit: int = 3500) -> None:
        """Several messages rather than one a platform would cut: each under ~4,000 characters."""
        chunk: list[str] = []
        size = 0
        for line in lines:
            if chunk and size + len(line) + 1 > limit:
                self.say("\n".join(chunk) + "\n" + CONTINUED)
                chunk, size = [], 0
            chunk.append(line)
            size += len(line) + 1
        if chunk:
            self.say("\n".join(chunk))

    def open_form(self, form: FormView | Notice, where: str = "I can't open the form from here"):
        if not self.chat.open_form(form):
            raise UsageError(where)


@dataclass(frozen=True)
class Spec:
    name: str
    usage: str
    summary: str
    run: Callable[[Ctx], None]
    details: str = ""


COMMANDS: dict[str, Spec] = {}


def command(name: str, usage: str, summary: str, details: str = ""):
    """Register a ``/pulse`` subcommand; help and per-command help are generated from these."""

    def deco(fn: Callable[[Ctx], None]) -> Callable[[Ctx], None]:
        COMMANDS[name] = Spec(name, usage, summary, fn, details)
        return fn

    return deco


def keyword(args: list[str], key: str) -> tuple[str | None, list[str]]:
    """Pull ``key:value`` out of args (the value may have been quoted)."""
    rest, value = [], None
    for a in args:
        if a.lower().startswith(key + ":"):
            value = a.split(":", 1)[1].strip() or None
        else:
            rest.append(a)
    return value, rest


def usage_of(name: str) -> str:
    cmd = COMMANDS[name]
    text = f"*Usage:* `{cmd.usage}`\n{cmd.summary}"
    return text + (f"\n{cmd.details}" if cmd.details else "")


def unknown_reply(name: str) -> str:
    close = difflib.get_close_matches(name, list(COMMANDS), n=1)
    hint = f" Did you mean `/pulse {close[0]}`?" if close else ""
    return f"⚠️ I don't know `/pulse {name}`.{hint}\n\n" + help_text(None)


def help_text(level: str | None) -> str:
    """Every command the level may run (all of them for None), each with who it is for."""
    lines = ["*medpulse* · anonymous pulse checks for doctors. Commands:"]
    for cmd in COMMANDS.values():
        need = authz.REQUIRED.get(cmd.name, authz.ADMIN)
        if level is None or authz.at_least(level, need):
            tag = "" if need == authz.EVERYONE else f"  _({need}s)_"
            lines.append(f"• `{cmd.usage}` · {cmd.summary}{tag}")
    lines.append("Type `/pulse help COMMAND` for more on one command.")
    return "\n".join(lines)


@command("help", "/pulse help [command]", "Show what you can do, or help for one command.")
def _help(ctx: Ctx) -> None:
    if ctx.args and ctx.args[0].lower() in COMMANDS:
        ctx.say(usage_of(ctx.args[0].lower()))
        return
    with ctx.core.db.Session() as s:
        lvl = authz.level(authz.roles_of(s, ctx.workspace_id, ctx.user))
    ctx.say(help_text(lvl))
