"""Load and validate question files: the shipped bank and a trust's own sets.

Files are YAML, either a mapping ``{set: NAME, items: [...]}`` or a plain list of items.
Every problem is raised as a :class:`BankError` naming file, item and field, because the
people who write these files are engagement leads, not developers reading tracebacks.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from questions.model import CHECKLIST_REFS, BankError, QuestionItem

BANK_DIR = Path(__file__).resolve().parent / "bank"
#: Shipped files in the order their items are listed; any other *.yaml follows, sorted.
BANK_ORDER: tuple[str, ...] = ("headline.yaml", "organisations.yaml", "leaders.yaml", "themes.yaml")
_TOP_KEYS = ("set", "items", "description")


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate keys, which PyYAML would otherwise silently drop."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


@dataclass(frozen=True)
class Bank:
    """The shipped question bank: all items in file order, with lookups the bot needs."""

    items: tuple[QuestionItem, ...]
    _by_id: dict[str, QuestionItem] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_id", {item.id: item for item in self.items})

    def __iter__(self) -> Iterator[QuestionItem]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    @property
    def headline(self) -> QuestionItem:
        """The item asked first in every pulse."""
        return next(item for item in self.items if item.headline)

    @property
    def rotating(self) -> tuple[QuestionItem, ...]:
        """Every non-headline item: the pool the rotation draws from."""
        return tuple(item for item in self.items if not item.headline)

    def by_id(self, item_id: str) -> QuestionItem:
        """The item with this id; KeyError if the bank has none."""
        return self._by_id[item_id]

    def for_audience(
        self, grade: str | None, *, include_headline: bool = False
    ) -> tuple[QuestionItem, ...]:
        """Items a doctor of ``grade`` may be asked (rotating items unless told otherwise)."""
        return tuple(
            item
            for item in self.items
            if item.applies_to(grade) and (include_headline or not item.headline)
        )


def _label(path: Path) -> str:
    """How a file is named in errors: ``bank/NAME`` for shipped files, else the path given."""
    try:
        return f"bank/{path.resolve().relative_to(BANK_DIR)}"
    except ValueError:
        return str(path)


def _read_yaml(path: Path, label: str) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BankError(label, f"cannot read file: {exc.strerror or exc}") from exc
    except UnicodeDecodeError:
        raise BankError(label, "not UTF-8 text (is it a binary file?)") from None
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise BankError(label, f"not valid YAML{where}: {problem}") from exc


def _raw_items(data: Any, label: str) -> list[Any]:
    """Accept a plain list or a ``{set, items}`` mapping and return the raw item list."""
    if isinstance(data, list):
        return data
    if not isinstance(data, Mapping):
        raise BankError(label, "expected a list of items or a mapping with 'items'")
    for key in data:
        if key not in _TOP_KEYS:
            raise BankError(
                label, f"unknown top-level key {key!r} (allowed: {', '.join(_TOP_KEYS)})"
            )
    items = data.get("items")
    if not isinstance(items, list):
        raise BankError(label, "'items' must be a list of question items")
    return items


def _error_from_validation(
    exc: ValidationError, label: str, item_id: str | None, index: int
) -> BankError:
    """Turn pydantic's first error into a BankError naming file, item and field."""
    error = exc.errors(include_url=False)[0]
    loc = [str(part) for part in error["loc"]]
    field_name = loc[0] if loc else None
    kind = error["type"]
    if kind == "extra_forbidden":
        allowed = ", ".join(QuestionItem.model_fields)
        problem = f"unknown key (allowed keys: {allowed})"
    elif kind == "missing":
        problem = "is required"
    elif kind == "value_error":
        problem = str(error["ctx"]["error"])
    else:
        problem = error["msg"]
    if field_name is None and ": " in problem:
        field_name, problem = problem.split(": ", 1)
    return BankError(label, problem, item=item_id, index=index, field=field_name)


def _parse_item(raw: Any, label: str, index: int) -> QuestionItem:
    if not isinstance(raw, Mapping):
        raise BankError(label, "expected a mapping of keys to values", index=index)
    raw_id = raw.get("id")
    item_id = raw_id if isinstance(raw_id, str) and raw_id else None
    try:
        return QuestionItem.model_validate(dict(raw))
    except ValidationError as exc:
        raise _error_from_validation(exc, label, item_id, index) from None


def _parse_file(path: Path, seen: dict[str, str], *, allow_headline: bool) -> list[QuestionItem]:
    """Parse one file, recording ids in ``seen`` (id -> file label) to catch duplicates."""
    label = _label(path)
    items = []
    for index, raw in enumerate(_raw_items(_read_yaml(path, label), label)):
        item = _parse_item(raw, label, index)
        if item.id in seen:
            where = "earlier in this file" if seen[item.id] == label else f"in {seen[item.id]}"
            raise BankError(
                label, f"duplicate id, already defined {where}", item=item.id, field="id"
            )
        if item.headline and not allow_headline:
            raise BankError(
                label,
                "only the shipped bank defines the headline item",
                item=item.id,
                field="headline",
            )
        seen[item.id] = label
        items.append(item)
    return items


def load_file(
    path: str | Path,
    *,
    existing_ids: Iterable[str] = (),
    existing_label: str = "an existing question set",
) -> list[QuestionItem]:
    """Load a trust's own question set, e.g. for ``medpulse questions import FILE``.

    ``existing_ids`` are ids already in use (the shipped bank, earlier imports); reusing
    one is an error, because answers are keyed by id and must never change meaning.
    """
    seen = {item_id: existing_label for item_id in existing_ids}
    return _parse_file(Path(path), seen, allow_headline=False)


def bank_files(directory: Path = BANK_DIR) -> list[Path]:
    """The bank's YAML files in listing order."""
    present = {path.name: path for path in directory.glob("*.yaml")}
    ordered = [present.pop(name) for name in BANK_ORDER if name in present]
    return ordered + [present[name] for name in sorted(present)]


def load_bank_from(directory: str | Path) -> Bank:
    """Load and validate every file in a bank directory (uncached; tests use this)."""
    directory = Path(directory)
    seen: dict[str, str] = {}
    items: list[QuestionItem] = []
    for path in bank_files(directory):
        items.extend(_parse_file(path, seen, allow_headline=True))
    headlines = [item.id for item in items if item.headline]
    if len(headlines) != 1:
        raise BankError(
            _label(directory),
            f"expected exactly one headline item, found {len(headlines)}",
            field="headline",
        )
    return Bank(tuple(items))


@functools.cache
def load_bank() -> Bank:
    """The shipped bank, validated once per process (it is read-only package data)."""
    return load_bank_from(BANK_DIR)


def coverage(items: Iterable[QuestionItem]) -> dict[str, list[str]]:
    """Map each of the 14 checklist questions to the ids of items drawn from it."""
    result: dict[str, list[str]] = {ref: [] for ref in CHECKLIST_REFS}
    for item in items:
        if item.source in result:
            result[item.source].append(item.id)
    return result
