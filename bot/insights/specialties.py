"""The shared specialty list (``questions/region/specialties.yaml``) and the mapping of a trust's
department names onto it, so that a region compares like with like ("A&E" in one trust,
"Emergency Medicine" in another).

Why a fixed list in the repository: every trust in a region must map onto the same names, and
a change to the list is reviewed like code. Matching ignores case, punctuation and spacing
("Obs & Gynae" = "obs and gynae"); a name that matches nothing stays unmapped rather than
being guessed, so it is never compared with the wrong specialty.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import yaml

import questions

LIST = Path(questions.__file__).resolve().parent / "region" / "specialties.yaml"


def _norm(name: str) -> str:
    words = re.sub(r"[^a-z0-9]+", " ", name.lower().replace("&", " and ")).split()
    return " ".join(words)


@cache
def aliases(path: Path = LIST) -> dict[str, str]:
    """Normalised name -> specialty, for every specialty and every alias of it; an alias
    claimed by two specialties is an error in the list, refused with one line naming both."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    out: dict[str, str] = {}
    for specialty, names in data.items():
        for name in [specialty, *(names or [])]:
            key = _norm(str(name))
            if out.get(key, specialty) != specialty:
                raise ValueError(
                    f"{path.name}: {name!r} is listed under both {out[key]} and {specialty}"
                )
            out[key] = specialty
    return out


def specialty_of(department: str, overrides: dict[str, str] | None = None) -> str | None:
    """The shared specialty a department name maps to (a trust's override first), or None."""
    if overrides and department in overrides:
        return overrides[department]
    return aliases().get(_norm(department))
