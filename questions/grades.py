"""Doctors' grades: the keys stored on participants and anonymous answers, and the words shown
for each group and for one person.

The one definition: storage, the roster import, the question bank's audiences, summaries and
every platform's forms read it from here.
"""

from __future__ import annotations

from typing import Literal

Grade = Literal["consultant", "sas", "resident", "medical_leader"]

LABELS: dict[str, str] = {
    "consultant": "Consultants",
    "sas": "SAS doctors",
    "resident": "Resident doctors",
    "medical_leader": "Medical leaders",
}

#: The same, for one person (their own grade in a picker, an action "for" a grade).
ONE: dict[str, str] = {
    "consultant": "Consultant",
    "sas": "SAS doctor",
    "resident": "Resident doctor",
    "medical_leader": "Medical leader",
}

#: The grade keys, in the order lists show them.
GRADES: tuple[str, ...] = tuple(LABELS)
