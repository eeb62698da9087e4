"""The question bank (YAML data shipped in ``questions/bank``), its validation, and rotation."""

from questions.grades import GRADES
from questions.loader import Bank, coverage, load_bank, load_file
from questions.model import CHECKLIST_REFS, BankError, QuestionItem
from questions.rotation import Choice, Person, choose
from questions.themes import THEMES

__all__ = [
    "CHECKLIST_REFS",
    "GRADES",
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
