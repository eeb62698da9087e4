"""NHS grade names as HR exports spell them, mapped to medpulse's four grades.

The table is data (``bot/people/nhs_grades.yaml``), not code, and a trust extends it without code with
a file of the same shape named by ``MEDPULSE_GRADE_NAMES``. Matching ignores case, punctuation
and spacing; an ESR name with its abbreviation in brackets ("Specialty Registrar (StR)") matches
by either part.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from questions.grades import GRADES

TABLE = Path(__file__).with_name("nhs_grades.yaml")
_RANGE = re.compile(r"\{(\d+)-(\d+)\}")


class GradeTableError(Exception):
    """A grade table that cannot be used; the message names the file and the problem."""


def normalise(name: str) -> str:
    """Lower case, '&' as 'and', every run of other characters one space."""
    text = name.lower().replace("&", " and ")
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text).split())


def _expand(name: str) -> list[str]:
    """``ST{1-8}`` -> ST1 ... ST8 (one range per name)."""
    m = _RANGE.search(name)
    if not m:
        return [name]
    lo, hi = int(m.group(1)), int(m.group(2))
    return [name[: m.start()] + str(n) + name[m.end() :] for n in range(lo, hi + 1)]


@dataclass(frozen=True)
class GradeTable:
    by_name: dict[str, str]  # normalised name -> medpulse grade
    shown: dict[str, list[str]]  # medpulse grade -> names as written, for error messages

    def grade_of(self, raw: str) -> str | None:
        """The medpulse grade for an HR grade name, or None when the table does not know it."""
        candidates = [raw]
        if "(" in raw:
            head, _, rest = raw.partition("(")
            candidates += [head, rest.split(")", 1)[0]]
        for name in candidates:
            grade = self.by_name.get(normalise(name))
            if grade:
                return grade
        return None

    def accepted(self) -> str:
        """Every accepted name, grouped by medpulse grade, on one line."""
        parts = []
        for grade, names in self.shown.items():
            listed = ", ".join(_RANGE.sub(r"\1–\2", n) for n in names)
            parts.append(f"{grade}: {listed}")
        return "; ".join(parts)


def _read(path: Path) -> dict[str, list[str]]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise GradeTableError(f"{path}: cannot read it ({exc})") from None
    except yaml.YAMLError as exc:
        raise GradeTableError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(data, dict):
        raise GradeTableError(f"{path}: expected a mapping of grade to a list of names")
    for grade, names in data.items():
        if grade not in GRADES:
            raise GradeTableError(
                f"{path}: {grade!r} is not a medpulse grade ({', '.join(GRADES)})"
            )
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise GradeTableError(f"{path}: {grade} must list names as text")
    return data


def build(paths: list[Path]) -> GradeTable:
    """Merge tables in order; one name mapped to two grades is an error, not a silent choice."""
    by_name: dict[str, str] = {}
    shown: dict[str, list[str]] = {g: [g.replace("_", " ")] for g in GRADES}
    for g in GRADES:
        by_name[normalise(g)] = g
    for path in paths:
        for grade, names in _read(path).items():
            for name in names:
                for one in _expand(name):
                    key = normalise(one)
                    if by_name.get(key, grade) != grade:
                        raise GradeTableError(
                            f"{path}: {one!r} is already a name for {by_name[key]}, not {grade}"
                        )
                    by_name[key] = grade
                if name not in shown[grade]:
                    shown[grade].append(name)
    return GradeTable(by_name, shown)


@lru_cache(maxsize=8)
def table(extra: str | None = None) -> GradeTable:
    """The shipped table, extended by the trust's file when ``extra`` names one."""
    return build([TABLE, *([Path(extra)] if extra else [])])
