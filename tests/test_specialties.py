"""The shared specialty list: trusts' own department names map onto one list, so a region
compares like with like; names that match nothing are not guessed."""

from __future__ import annotations

import pytest

from bot.insights.specialties import aliases, specialty_of


@pytest.mark.parametrize(
    ("department", "specialty"),
    [
        ("A&E", "Emergency Medicine"),
        ("ED", "Emergency Medicine"),
        ("Emergency Dept", "Emergency Medicine"),
        ("emergency  medicine", "Emergency Medicine"),
        ("Obs & Gynae", "Obstetrics and Gynaecology"),
        ("T&O", "Trauma and Orthopaedics"),
        ("ITU", "Intensive Care"),
        ("Radiology", "Radiology"),
    ],
)
def test_trusts_names_map_onto_the_shared_list(department, specialty):
    assert specialty_of(department) == specialty


def test_an_unknown_name_is_not_guessed_and_a_trust_override_wins():
    assert specialty_of("Tiny") is None
    assert specialty_of("Edinburgh Ward") is None  # "ED" matches only the whole name
    assert specialty_of("Tiny", {"Tiny": "Radiology"}) == "Radiology"
    assert specialty_of("A&E", {"A&E": "Acute Medicine"}) == "Acute Medicine"


def test_an_alias_under_two_specialties_is_refused(tmp_path):
    bad = tmp_path / "specialties.yaml"
    bad.write_text("Emergency Medicine: [ED]\nEndocrinology: [ed]\n")
    with pytest.raises(ValueError, match="listed under both Emergency Medicine and Endocrinology"):
        aliases(bad)
    assert len(set(aliases().values())) >= 20  # the repository's list loads and is not empty
