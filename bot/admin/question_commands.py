"""/pulse questions: list the questions and sets, switch them on and off, add and reword.
Words and checks only; the changes (audited) are ``bot.admin.questions``'."""

from __future__ import annotations

from collections.abc import Callable

from bot.admin import forms
from bot.admin import questions as question_admin
from bot.admin.command_table import Ctx, UsageError, command
from bot.chat.forms import clip, escape

_QUESTIONS_DETAILS = (
    "`/pulse questions` lists every question with its ID, theme and on/off.\n"
    "`/pulse questions disable ID` / `enable ID`: stop or restart asking one (past answers stay).\n"
    "`/pulse questions add`: a form for your own question.\n"
    '`/pulse questions reword ID "new wording"`: a new version (trends never mix wordings).\n'
    "`/pulse questions sets` lists question sets; `/pulse questions set NAME on|off` switches "
    "a whole set (e.g. one imported with `medpulse questions import FILE.yaml`)."
)


def _questions(ctx: Ctx) -> None:
    args = ctx.args
    action = args[0].lower() if args else "list"
    handler = _ACTIONS.get(action)
    if handler is None:
        raise UsageError(f"I don't know `questions {action}`")
    handler(ctx, args[1:])


def _list(ctx: Ctx, rest: list[str]) -> None:
    if rest:
        raise UsageError("`questions` lists everything; it takes no filter")
    items = question_admin.list_items(ctx.core, ctx.team)
    asked = sum(1 for i in items if i.asked)
    lines = [
        f"*Questions* · {len(items)} in all, {asked} being asked. "
        "ID · theme · on/off. `/pulse help questions` for what you can change."
    ]
    current = None
    for it in items:
        if it.set_name != current:
            current = it.set_name
            lines.append(f"*Set {current}*{'' if it.set_on else ' (switched off)'}")
        state = "on" if it.asked else ("off" if not it.enabled else "off (set off)")
        star = " ⭐ headline" if it.headline else ""
        version = f" · v{it.version}" if it.version > 1 else ""
        lines.append(
            f"• `{it.key}` · {it.theme} · *{state}*{star}{version} · _{clip(it.text, 60)}_"
        )
    ctx.say_long(lines)


def _switch(enabled: bool) -> Callable[[Ctx, list[str]], None]:
    def run_it(ctx: Ctx, rest: list[str]) -> None:
        if len(rest) != 1:
            raise UsageError("name one question ID (see `/pulse questions`)")
        key = rest[0].strip("`").lower()
        changed = question_admin.set_enabled(ctx.core, ctx.team, ctx.user, key, enabled)
        word = "on" if enabled else "off"
        if not changed:
            ctx.say(f"`{key}` was already {word}. Nothing changed.")
        elif enabled:
            ctx.say(f"✅ `{key}` is on: it can be asked from the next round.")
        else:
            ctx.say(
                f"✅ `{key}` is off: it won't be asked from the next round. Its past answers "
                "stay and still count in trends."
            )

    return run_it


def _add(ctx: Ctx, rest: list[str]) -> None:
    if rest:
        raise UsageError("`questions add` opens a form; type the question there")
    ctx.open_form(forms.question_form())


def _reword(ctx: Ctx, rest: list[str]) -> None:
    if len(rest) < 2:
        raise UsageError('give the ID and the new wording: questions reword ID "New wording"')
    key, text = rest[0].strip("`").lower(), " ".join(rest[1:])
    version = question_admin.reword(ctx.core, ctx.team, ctx.user, key, text)
    ctx.say(
        f"✅ `{key}` now reads: _{escape(text)}_ (version {version}). Answers to the "
        "earlier wording are kept and reported separately."
    )


def _sets(ctx: Ctx, rest: list[str]) -> None:
    if rest:
        raise UsageError("`questions sets` takes no arguments")
    rows = question_admin.list_sets(ctx.core, ctx.team)
    lines = ["*Question sets* (for this audience):"] + [
        f"• `{r.name}` · {r.kind} · {r.items} questions · *{'on' if r.on else 'off'}*" for r in rows
    ]
    ctx.say("\n".join(lines))


def _set(ctx: Ctx, rest: list[str]) -> None:
    if len(rest) != 2 or rest[1].lower() not in ("on", "off"):
        raise UsageError("questions set NAME on|off")
    name, on = rest[0], rest[1].lower() == "on"
    changed = question_admin.switch_set(ctx.core, ctx.team, ctx.user, name, on)
    word = "on" if on else "off"
    ctx.say(
        f"✅ The set `{name}` is {word} for this audience from the next round."
        if changed
        else f"The set `{name}` was already {word}. Nothing changed."
    )


_ACTIONS: dict[str, Callable[[Ctx, list[str]], None]] = {
    "list": _list,
    "disable": _switch(False),
    "enable": _switch(True),
    "add": _add,
    "reword": _reword,
    "sets": _sets,
    "set": _set,
}

command(
    "questions",
    "/pulse questions [disable ID | enable ID | add | reword ID TEXT | sets | set NAME on|off]",
    "List the questions (IDs, themes, on/off) or change them.",
    details=_QUESTIONS_DETAILS,
)(_questions)
