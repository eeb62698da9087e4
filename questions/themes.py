"""The report's eight common themes: their keys (stored on items and comments) and the words
leaders and doctors see for them, in the order summaries list them.

The one definition: the bank's validator, rotation, summaries, charts and every platform's
forms read it from here.
"""

from __future__ import annotations

from typing import Literal

Theme = Literal[
    "stable-leadership",
    "quality-strategy",
    "medical-leadership-structure",
    "devolved-authority",
    "values-based-recruitment",
    "appraisal-and-development",
    "junior-doctor-involvement",
    "learning-from-others",
]

LABELS: dict[str, str] = {
    "stable-leadership": "Visible, stable leadership",
    "quality-strategy": "Quality and safety as the way we work",
    "medical-leadership-structure": "Doctors in leadership roles",
    "devolved-authority": "Say over our own services",
    "values-based-recruitment": "Recruiting for values",
    "appraisal-and-development": "Appraisal, job planning and development",
    "junior-doctor-involvement": "Resident doctors' involvement",
    "learning-from-others": "Learning from others",
}

#: The theme keys, in summary order.
THEMES: tuple[str, ...] = tuple(LABELS)


def label(theme: str) -> str:
    """The words for ``theme``; an unknown key (an old or imported one) is shown as it is."""
    return LABELS.get(theme, theme)
