"""The question bank (YAML data shipped in ``questions/bank``), its validation, and rotation."""

from questions.loader import Bank, coverage, load_bank, load_file
from questions.model import (
    CHECKLIST_REFS,
    GRADES,
    SCALES,
    THEMES,
    BankError,
    QuestionItem,
)
from questions.rotation import Choice, Person, choose

__all__ = [
    "CHECKLIST_REFS",
    "GRADES",
    "SCALES",
    "THEMES",
    "Bank",
    "BankError",
    "Choice",
    "Person",
    "QuestionItem",
    "choose",
    "coverage",
    "load_bank",
    "load_file",
]
