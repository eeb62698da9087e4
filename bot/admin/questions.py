"""Admin changes to the questions: on/off, custom items, rewording, imported sets, per-audience sets.

Answers point at question *versions*, so nothing here ever deletes or edits a version: disabling
an item only stops it being asked (past answers stay and still report), and rewording adds a
new version so two wordings never trend together. Every item, however it arrives (shipped,
typed into the modal, imported from YAML), passes the same validation: the bank's own
``questions.model.QuestionItem``.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import ValidationError
from sqlalchemy import func, select

from bot.admin import audit
from bot.admin.operations import AdminError, audience_id_for, workspace
from bot.core import Core
from bot.people.workspaces import new_version, sync_items
from questions.model import MAX_ID
from questions.model import QuestionItem as ItemSpec
from storage.models import QuestionItem, QuestionSet, QuestionVersion, SetSwitch

CUSTOM_SET = "custom"
RESERVED_SETS = ("bank", CUSTOM_SET)
_SET_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,59}$")


class ItemError(AdminError):
    """An item failed validation; ``errors`` maps each field to what is wrong with it."""

    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))


@dataclass(frozen=True)
class ItemRow:
    key: str
    theme: str
    set_name: str
    enabled: bool
    set_on: bool
    text: str
    version: int
    headline: bool
    source: str

    @property
    def asked(self) -> bool:
        return self.enabled and self.set_on


@dataclass(frozen=True)
class SetRow:
    name: str
    kind: str
    on: bool
    items: int


def _switches(s, audience_id: int | None) -> dict[int, bool]:
    if audience_id is None:
        return {}
    return dict(
        s.execute(
            select(SetSwitch.set_id, SetSwitch.enabled).where(SetSwitch.audience_id == audience_id)
        ).all()
    )


def _audience_or_none(core: Core, team_id: str) -> int | None:
    try:
        return audience_id_for(core, team_id)
    except AdminError:
        return None


def list_items(core: Core, team_id: str) -> list[ItemRow]:
    """Every item in the workspace, with whether this audience is asked it (sets included)."""
    aid = _audience_or_none(core, team_id)
    with core.db.Session() as s:
        ws = workspace(s, team_id)
        switches = _switches(s, aid)
        rows = s.execute(
            select(QuestionItem, QuestionSet, QuestionVersion.text)
            .join(QuestionSet, QuestionSet.id == QuestionItem.set_id)
            .join(
                QuestionVersion,
                (QuestionVersion.item_id == QuestionItem.id)
                & (QuestionVersion.version == QuestionItem.current_version),
            )
            .where(QuestionItem.workspace_id == ws.id)
            .order_by(QuestionSet.id, QuestionItem.id)
        ).all()
        return [
            ItemRow(
                it.key,
                it.theme,
                qs.name,
                it.enabled,
                switches.get(qs.id, qs.enabled),
                text,
                it.current_version,
                it.headline,
                it.source,
            )
            for it, qs, text in rows
        ]


def list_sets(core: Core, team_id: str) -> list[SetRow]:
    aid = _audience_or_none(core, team_id)
    with core.db.Session() as s:
        ws = workspace(s, team_id)
        switches = _switches(s, aid)
        rows = s.execute(
            select(QuestionSet, func.count(QuestionItem.id))
            .outerjoin(QuestionItem, QuestionItem.set_id == QuestionSet.id)
            .where(QuestionSet.workspace_id == ws.id)
            .group_by(QuestionSet.id)
            .order_by(QuestionSet.id)
        ).all()
        return [SetRow(qs.name, qs.kind, switches.get(qs.id, qs.enabled), n) for qs, n in rows]


def _item(s, workspace_id: int, key: str) -> QuestionItem:
    row = s.scalar(
        select(QuestionItem).where(
            QuestionItem.workspace_id == workspace_id, QuestionItem.key == key
        )
    )
    if row is None:
        keys = list(
            s.scalars(select(QuestionItem.key).where(QuestionItem.workspace_id == workspace_id))
        )
        close = difflib.get_close_matches(key, keys, n=1)
        hint = f" Did you mean `{close[0]}`?" if close else " `/pulse questions` lists the IDs."
        raise AdminError(f"there is no question with ID `{key}`.{hint}")
    return row


def set_enabled(core: Core, team_id: str, actor: str, key: str, enabled: bool) -> bool:
    """Switch one item on or off; False when it already was. Past answers are never touched."""
    now = core.clock.now()
    with core.db.Session() as s, s.begin():
        ws = workspace(s, team_id)
        row = _item(s, ws.id, key)
        if row.enabled == enabled:
            return False
        row.enabled = enabled
        audit.record(
            s,
            ws.id,
            actor,
            "question enabled" if enabled else "question disabled",
            f"{key} {'off' if enabled else 'on'}",
            f"{key} {'on' if enabled else 'off'}",
            now,
        )
        return True


def _validation_errors(exc: ValidationError) -> dict[str, str]:
    errors: dict[str, str] = {}
    for err in exc.errors(include_url=False):
        field = str(err["loc"][0]) if err["loc"] else "item"
        msg = str(err["ctx"]["error"]) if err["type"] == "value_error" else err["msg"]
        errors.setdefault(field, msg)
    return errors


def validate_item(fields: dict) -> ItemSpec:
    """The bank's own validation, with problems by field for a modal or a reply."""
    try:
        return ItemSpec.model_validate(fields)
    except ValidationError as exc:
        raise ItemError(_validation_errors(exc)) from None


def _slug(text: str) -> str:
    words = re.findall(r"[a-z0-9]+", text.lower())[:6]
    return "-".join(words) or "item"


def _free_key(s, workspace_id: int, base: str) -> str:
    taken = set(
        s.scalars(
            select(QuestionItem.key).where(
                QuestionItem.workspace_id == workspace_id, QuestionItem.key.like(base[:40] + "%")
            )
        )
    )
    stem = base[: MAX_ID - 4].rstrip("-")
    key, n = stem, 2
    while key in taken:
        key, n = f"{stem}-{n}", n + 1
    return key


def add_custom(
    core: Core,
    team_id: str,
    actor: str,
    *,
    text: str,
    scale: str,
    theme: str,
    audience: Sequence[str] = (),
    help_text: str | None = None,
) -> str:
    """Add a trust's own item (``source: custom``) to the workspace's custom set; returns its ID."""
    fields = {
        "id": "custom-x",
        "text": text,
        "scale": scale,
        "theme": theme,
        "source": "custom",
        "audience": list(audience) if audience else "all",
        "help": help_text or None,
    }
    validate_item(fields)  # field problems first, before any key is chosen
    now = core.clock.now()
    with core.db.Session() as s, s.begin():
        ws = workspace(s, team_id)
        key = _free_key(s, ws.id, "custom-" + _slug(text))
        spec = validate_item({**fields, "id": key})
        sync_items(s, ws.id, CUSTOM_SET, "custom", [spec], now)
        audit.record(s, ws.id, actor, "question added", None, f"{key}: {spec.text}", now)
    return key


def reword(
    core: Core, team_id: str, actor: str, key: str, text: str, help_text: str | None = None
) -> int:
    """New wording for an item: a new version (old answers keep the wording they answered)."""
    now = core.clock.now()
    with core.db.Session() as s, s.begin():
        ws = workspace(s, team_id)
        row = _item(s, ws.id, key)
        current = s.scalar(
            select(QuestionVersion).where(
                QuestionVersion.item_id == row.id, QuestionVersion.version == row.current_version
            )
        )
        spec = validate_item(
            {
                "id": row.key,
                "text": text,
                "scale": row.scale,
                "theme": row.theme,
                "source": row.source,
                "audience": "all" if row.audience == ["all"] else list(row.audience),
                "reverse": row.reverse,
                "help": help_text if help_text is not None else current.help,
                "headline": row.headline,
            }
        )
        if spec.text == current.text and spec.help == current.help:
            raise AdminError(f"`{key}` already reads exactly like that. Nothing changed.")
        version = new_version(s, row, spec.text, spec.help, now)
        audit.record(
            s,
            ws.id,
            actor,
            "question reworded",
            f"{key} v{version.version - 1}: {current.text}",
            f"{key} v{version.version}: {spec.text}",
            now,
        )
        return version.version


@dataclass(frozen=True)
class ImportResult:
    set_name: str
    added: int
    reworded: int
    unchanged: int


def import_set(
    core: Core, team_id: str, actor: str, set_name: str, items: Sequence[ItemSpec]
) -> ImportResult:
    """Store a trust's YAML set as a ``kind=import`` QuestionSet (re-importing updates it).

    An ID already used by another set is refused: answers are keyed by item, so one ID must
    never mean two questions. Items left out of a re-import stay (their answers must stay
    readable); disable them with ``/pulse questions disable ID``.
    """
    name = set_name.strip().lower()
    if not _SET_NAME.match(name) or name in RESERVED_SETS:
        raise AdminError(
            f"{set_name!r} can't name a question set: use lower-case letters, digits, - or _, "
            f"and not {' or '.join(RESERVED_SETS)}"
        )
    now = core.clock.now()
    with core.db.Session() as s, s.begin():
        ws = workspace(s, team_id)
        existing_set = s.scalar(
            select(QuestionSet).where(QuestionSet.workspace_id == ws.id, QuestionSet.name == name)
        )
        if existing_set is not None and existing_set.kind != "import":
            raise AdminError(f"the set {name!r} is not an imported set")
        known = dict(
            s.execute(
                select(QuestionItem.key, QuestionItem.set_id).where(
                    QuestionItem.workspace_id == ws.id,
                    QuestionItem.key.in_([i.id for i in items]),
                )
            ).all()
        )
        own = existing_set.id if existing_set else None
        clash = sorted(k for k, set_id in known.items() if set_id != own)
        if clash:
            raise AdminError(
                "these IDs are already used by another question set: "
                + ", ".join(clash)
                + ". Give them new IDs (answers are kept per ID)."
            )
        changed = sync_items(s, ws.id, name, "import", items, now)
        new = sum(1 for i in items if i.id not in known)
        result = ImportResult(name, new, changed - new, len(items) - changed)
        audit.record(
            s,
            ws.id,
            actor,
            "question set imported",
            None,
            f"{name}: {new} new, {result.reworded} reworded",
            now,
        )
        return result


def switch_set(core: Core, team_id: str, actor: str, set_name: str, on: bool) -> bool:
    """Switch a whole set on or off for the audience; False when it already was."""
    aid = audience_id_for(core, team_id)
    now = core.clock.now()
    with core.db.Session() as s, s.begin():
        ws = workspace(s, team_id)
        qset = s.scalar(
            select(QuestionSet).where(
                QuestionSet.workspace_id == ws.id, QuestionSet.name == set_name.lower()
            )
        )
        if qset is None:
            names = ", ".join(
                s.scalars(select(QuestionSet.name).where(QuestionSet.workspace_id == ws.id))
            )
            raise AdminError(f"there is no question set called {set_name!r}. Sets: {names}.")
        switch = s.scalar(
            select(SetSwitch).where(SetSwitch.set_id == qset.id, SetSwitch.audience_id == aid)
        )
        current = switch.enabled if switch is not None else qset.enabled
        if current == on:
            return False
        if switch is None:
            s.add(SetSwitch(set_id=qset.id, audience_id=aid, enabled=on))
        else:
            switch.enabled = on
        audit.record(
            s,
            ws.id,
            actor,
            "question set switched",
            f"{qset.name} {'on' if current else 'off'}",
            f"{qset.name} {'on' if on else 'off'}",
            now,
        )
        return True
