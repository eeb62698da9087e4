"""The question item model, checked against the fixed vocabularies (``questions.scales``,
``questions.themes``, ``questions.grades``).

Items are plain data written by people (us, or a trust's engagement lead), so every
field is checked strictly on load: a typo in a theme or a scale must fail loudly with
the file, item and field named, rather than silently produce an unreportable question.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from questions import scales
from questions.grades import GRADES, Grade
from questions.scales import Scale
from questions.themes import THEMES, Theme

MAX_TEXT = 150
MAX_ID = 64

CHECKLIST_PARTS: tuple[str, ...] = ("organisations", "leaders")
CHECKLIST_SIZE = 7
#: The 14 checklist questions, in checklist order.
CHECKLIST_REFS: tuple[str, ...] = tuple(
    f"checklist:{part}:{n}" for part in CHECKLIST_PARTS for n in range(1, CHECKLIST_SIZE + 1)
)

_ID_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_CHECKLIST_RE = re.compile(r"^checklist:(organisations|leaders):([1-7])$")


class BankError(ValueError):
    """A question file is invalid; the message names the file, the item and the field.

    The parts are kept as attributes so callers (the CLI, an import modal) can point
    the author at the exact spot without parsing the message.
    """

    def __init__(
        self,
        file: str,
        problem: str,
        *,
        item: str | None = None,
        index: int | None = None,
        field: str | None = None,
    ) -> None:
        self.file = file
        self.item = item
        self.index = index
        self.field = field
        self.problem = problem
        parts = [file]
        if item is not None:
            parts.append(f"item '{item}'")
        elif index is not None:
            parts.append(f"item at index {index}")
        if field is not None:
            parts.append(f"field '{field}'")
        parts.append(problem)
        super().__init__(": ".join(parts))


def _one_of(value: Any, allowed: Any) -> str:
    """Phrase an 'unknown value' problem the same way for every vocabulary."""
    return f"{value!r} is not one of {', '.join(allowed)}"


def _require_str(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected text, got {type(value).__name__} {value!r}")
    return value


def _short_line(value: Any, what: str) -> str:
    """Check a one-line, non-empty string of at most MAX_TEXT characters."""
    text = _require_str(value).strip()
    if not text:
        raise ValueError(f"{what} is empty")
    if "\n" in text or "\r" in text:
        raise ValueError(f"{what} must be a single line")
    if len(text) > MAX_TEXT:
        raise ValueError(f"{what} is {len(text)} characters, the limit is {MAX_TEXT}")
    return text


class QuestionItem(BaseModel):
    """One pulse question. Frozen, because ids and wording are shared by every round."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    text: str
    scale: Scale
    theme: Theme
    source: str
    audience: Literal["all"] | tuple[Grade, ...] = "all"
    reverse: bool = Field(default=False, strict=True)
    help: str | None = None
    headline: bool = Field(default=False, strict=True)

    @field_validator("id", mode="before")
    @classmethod
    def _check_id(cls, value: Any) -> str:
        text = _require_str(value)
        if not _ID_RE.match(text):
            raise ValueError(
                f"{text!r} is not a slug (lower-case letters, digits and single hyphens)"
            )
        if len(text) > MAX_ID:
            raise ValueError(f"id is {len(text)} characters, the limit is {MAX_ID}")
        return text

    @field_validator("text", mode="before")
    @classmethod
    def _check_text(cls, value: Any) -> str:
        return _short_line(value, "text")

    @field_validator("help", mode="before")
    @classmethod
    def _check_help(cls, value: Any) -> str | None:
        return None if value is None else _short_line(value, "help")

    @field_validator("scale", mode="before")
    @classmethod
    def _check_scale(cls, value: Any) -> str:
        if value not in scales.CHOICES:
            raise ValueError(_one_of(value, scales.CHOICES))
        return value

    @field_validator("theme", mode="before")
    @classmethod
    def _check_theme(cls, value: Any) -> str:
        if value not in THEMES:
            raise ValueError(_one_of(value, THEMES))
        return value

    @field_validator("source", mode="before")
    @classmethod
    def _check_source(cls, value: Any) -> str:
        text = _require_str(value)
        if text == "custom" or _CHECKLIST_RE.match(text):
            return text
        if text.startswith("theme:") and text[len("theme:") :] in THEMES:
            return text
        raise ValueError(
            f"{text!r} is not a source: use checklist:organisations:N or "
            "checklist:leaders:N (N 1..7), theme:NAME, or custom"
        )

    @field_validator("audience", mode="before")
    @classmethod
    def _check_audience(cls, value: Any) -> str | tuple[str, ...]:
        if value == "all":
            return "all"
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list | tuple) or not value:
            raise ValueError("must be 'all' or a non-empty list of " + ", ".join(GRADES))
        grades: list[str] = []
        for grade in value:
            if grade not in GRADES:
                raise ValueError(_one_of(grade, ("all", *GRADES)))
            if grade not in grades:
                grades.append(grade)
        return tuple(grades)

    @model_validator(mode="after")
    def _check_headline(self) -> QuestionItem:
        """The headline is compared with a 0-10 national score, so it must be 0-10 for all."""
        if self.headline and (self.scale != "scale0_10" or self.audience != "all"):
            raise ValueError("headline: a headline item must use scale0_10 and audience all")
        if self.headline and self.reverse:
            raise ValueError("headline: a headline item cannot be reversed")
        return self

    @property
    def checklist_ref(self) -> tuple[str, int] | None:
        """('organisations' | 'leaders', 1..7) for checklist items, else None."""
        match = _CHECKLIST_RE.match(self.source)
        return (match.group(1), int(match.group(2))) if match else None

    def applies_to(self, grade: str | None) -> bool:
        """Whether a doctor of this grade is asked this item; unknown grade gets 'all' only."""
        return self.audience == "all" or (grade is not None and grade in self.audience)
