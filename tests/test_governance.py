"""The governance pack stays true: the data inventory lists exactly the columns the models
store, the README links the pack, and the data-flow picture is rendered from its source."""

from __future__ import annotations

import re
from pathlib import Path

from tests.schema import migrated_metadata

ROOT = Path(__file__).resolve().parent.parent
PACK = ROOT / "docs" / "governance"


def _section(text: str, heading: str) -> str:
    start = text.index(f"## {heading}")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def _rows(section: str) -> list[list[str]]:
    rows = []
    for line in section.splitlines():
        if line.startswith("| `"):
            rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows


def _names(cell: str) -> list[str]:
    return re.findall(r"`([a-z_0-9]+)`", cell)


def inventory() -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
    text = (PACK / "data-inventory.md").read_text()
    personal = {
        (_names(r[0])[0], _names(r[1])[0]) for r in _rows(_section(text, "Columns that can"))
    }
    other = {
        (_names(r[0])[0], column)
        for r in _rows(_section(text, "Columns that concern no person"))
        for column in _names(r[1])
    }
    return personal, other


def test_the_inventory_lists_every_stored_column_exactly_once():
    personal, other = inventory()
    tables = migrated_metadata().tables.values()
    stored = {(t.name, c.name) for t in tables for c in t.columns}
    assert not personal & other, f"listed as both: {sorted(personal & other)}"
    missing = sorted(stored - personal - other)
    assert not missing, (
        f"columns stored but not in docs/governance/data-inventory.md: {missing}; add each to "
        "'Columns that can concern a person' (with what it holds and how it is removed) or to "
        "'Columns that concern no person'"
    )
    assert not (personal | other) - stored, (
        f"no longer stored: {sorted((personal | other) - stored)}"
    )


def test_every_personal_column_says_its_kind_and_how_it_is_removed():
    text = (PACK / "data-inventory.md").read_text()
    kinds = {
        "identifier",
        "about a named person",
        "anonymous answer",
        "free text",
        "count",
        "secret",
    }
    for row in _rows(_section(text, "Columns that can")):
        assert len(row) == 5 and row[2] in kinds and row[3] and row[4], row


def test_the_pack_is_complete_and_linked_from_the_readme():
    readme = (ROOT / "README.md").read_text()
    assert "docs/governance/" in readme
    for name in ("dpia.md", "data-inventory.md", "clinical-safety.md", "accessibility.md"):
        assert (PACK / name).exists(), name
        assert name in (PACK / "README.md").read_text()
    dpia = (PACK / "dpia.md").read_text()
    for heading in (
        "Purposes",
        "Data items",
        "Lawful basis",
        "Data flows",
        "Processors",
        "International transfers",
        "Retention",
        "Rights",
        "Risks and mitigations",
    ):
        assert f"## {heading}" in dpia, heading
    assert "medpulse forget" in dpia and "threat model" in dpia.lower()


def test_the_data_flow_picture_is_rendered_from_its_source():
    source = (PACK / "data-flow.dot").read_text()
    png = (PACK / "data-flow.png").read_bytes()
    assert png.startswith(b"\x89PNG")
    assert (
        "dot -Tpng docs/governance/data-flow.dot -o docs/governance/data-flow.png"
        in (ROOT / "README.md").read_text()
    )
    for node in ("Slack", "medpulse", "database", "leaders", "Doctor"):
        assert node in source, node
