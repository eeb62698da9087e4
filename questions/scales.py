"""Answer scales: the values stored for each scale and the words shown for them.

The one definition: the pulse (every platform), the tap note, the exports and the question
bank all read it from here.
"""

from __future__ import annotations

from typing import Literal

Scale = Literal["agree5", "scale0_10", "yes_no_unsure"]

#: (stored value, label), in the order the buttons appear. ``responses.value`` holds the int;
#: agree5 runs low (bad) to high (good) before any ``reverse`` flip, which is applied when
#: scoring, never when storing.
CHOICES: dict[str, list[tuple[int, str]]] = {
    "agree5": [
        (1, "Strongly disagree"),
        (2, "Disagree"),
        (3, "Neutral"),
        (4, "Agree"),
        (5, "Strongly agree"),
    ],
    "scale0_10": [(i, str(i)) for i in range(11)],
    "yes_no_unsure": [(1, "Yes"), (0, "No"), (-1, "Not sure")],
}

HINTS = {"scale0_10": "0 = not at all · 10 = completely"}


def choices(scale: str) -> list[tuple[int, str]]:
    return CHOICES[scale]


def hint(scale: str) -> str | None:
    return HINTS.get(scale)


def label(scale: str, value: int) -> str:
    return dict(CHOICES[scale]).get(value, str(value))


def valid(scale: str, value: int) -> bool:
    return value in dict(CHOICES.get(scale, []))
