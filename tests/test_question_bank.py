"""The shipped question bank is valid and complete, and bad files fail with useful messages."""

from __future__ import annotations

import argparse
import io
import json
import re
from pathlib import Path
from typing import get_args

import pytest

from questions import cli, grades, scales, themes
from questions.grades import GRADES, Grade
from questions.loader import coverage, load_bank, load_bank_from, load_file
from questions.model import CHECKLIST_REFS, MAX_TEXT, BankError, QuestionItem
from questions.scales import Scale
from questions.themes import THEMES, Theme

GOOD_ITEM = """\
  - id: {id}
    text: "My department learns from how other teams work."
    scale: agree5
    theme: learning-from-others
    source: custom
    audience: all
"""


def test_shipped_bank_loads_with_35_to_45_items() -> None:
    bank = load_bank()
    assert 35 <= len(bank.items) <= 45
    assert all(isinstance(item, QuestionItem) for item in bank.items)


def test_every_checklist_question_has_at_least_two_items() -> None:
    cover = coverage(load_bank().items)
    assert list(cover) == list(CHECKLIST_REFS)
    assert len(cover) == 14
    thin = {ref: ids for ref, ids in cover.items() if len(ids) < 2}
    assert not thin


def test_every_theme_has_items() -> None:
    themes = {item.theme for item in load_bank().rotating}
    assert themes == set(THEMES)


def test_exactly_one_headline_on_0_to_10_for_everyone() -> None:
    bank = load_bank()
    headlines = [item for item in bank.items if item.headline]
    assert [item.id for item in headlines] == ["headline-engagement"]
    assert bank.headline.scale == "scale0_10"
    assert bank.headline.audience == "all"
    assert bank.headline not in bank.rotating


def test_bank_has_the_variety_the_product_needs() -> None:
    items = load_bank().rotating
    assert sum(item.reverse for item in items) >= 2
    assert sum(item.scale == "yes_no_unsure" for item in items) >= 2
    assert any(item.audience == ("resident",) for item in items)
    assert any(item.audience == ("medical_leader",) for item in items)
    assert all(len(item.text) <= MAX_TEXT for item in items)
    assert all(item.help is None or len(item.help) <= MAX_TEXT for item in items)


def test_bank_lookups() -> None:
    bank = load_bank()
    assert bank.by_id("ldr3-planning-voice").checklist_ref == ("leaders", 3)
    assert bank.by_id("thm-learn-elsewhere").checklist_ref is None
    with pytest.raises(KeyError):
        bank.by_id("no-such-item")
    unknown = bank.for_audience(None)
    assert unknown and all(item.audience == "all" for item in unknown)
    residents = {item.id for item in bank.for_audience("resident")}
    assert "org7-resident-qi-support" in residents
    assert "ldr6-leader-time" not in residents
    assert "ldr6-leader-time" in {item.id for item in bank.for_audience("medical_leader")}


def test_one_definition_of_scales_themes_and_grades() -> None:
    """The Literal types the validator checks list exactly the keys whose labels are defined,
    and each scale's stored values are the ints ``responses.value`` holds and the summaries
    count (yes/no/unsure: 1 is yes)."""
    assert set(get_args(Scale)) == set(scales.CHOICES)
    assert list(get_args(Theme)) == list(THEMES) == list(themes.LABELS)
    assert list(get_args(Grade)) == list(GRADES) == list(grades.LABELS)
    assert [v for v, _ in scales.CHOICES["agree5"]] == [1, 2, 3, 4, 5]
    assert scales.label("agree5", 1) == "Strongly disagree"
    assert scales.label("agree5", 3) == "Neutral"
    assert [v for v, _ in scales.CHOICES["scale0_10"]] == list(range(11))
    assert scales.CHOICES["yes_no_unsure"] == [(1, "Yes"), (0, "No"), (-1, "Not sure")]
    assert themes.label("junior-doctor-involvement") == "Resident doctors' involvement"
    assert themes.label("retired-theme") == "retired-theme"


def _write(tmp_path: Path, body: str, name: str = "trust.yaml") -> Path:
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    return path


def test_a_trust_file_loads_as_list_or_mapping(tmp_path: Path) -> None:
    as_list = _write(tmp_path, GOOD_ITEM.format(id="trust-a"), "list.yaml")
    as_map = _write(tmp_path, "set: mine\nitems:\n" + GOOD_ITEM.format(id="trust-b"), "map.yaml")
    assert [item.id for item in load_file(as_list)] == ["trust-a"]
    assert [item.id for item in load_file(as_map)] == ["trust-b"]


BAD_CASES = [
    # (what to change in the item, the field named, words in the problem)
    ("    colour: blue\n", "colour", "unknown key"),
    ("    scale: agree7\n", "scale", "'agree7' is not one of agree5, scale0_10, yes_no_unsure"),
    ("    theme: morale\n", "theme", "'morale' is not one of"),
    ("    source: checklist:leaders:9\n", "source", "not a source"),
    ("    audience: [registrar]\n", "audience", "'registrar' is not one of"),
    ('    text: "' + "x" * (MAX_TEXT + 1) + '"\n', "text", "the limit is 150"),
    ('    text: "   "\n', "text", "empty"),
]


@pytest.mark.parametrize(("line", "field", "words"), BAD_CASES)
def test_bad_item_names_file_item_and_field(
    tmp_path: Path, line: str, field: str, words: str
) -> None:
    item = GOOD_ITEM.format(id="trust-bad")
    key = line.split(":")[0].strip()
    lines = [ln for ln in item.splitlines(keepends=True) if not ln.strip().startswith(key + ":")]
    path = _write(tmp_path, "".join(lines) + line)
    with pytest.raises(BankError) as caught:
        load_file(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: item 'trust-bad': field '{field}': ")
    assert words in message
    assert caught.value.field == field and caught.value.item == "trust-bad"


def test_duplicate_id_in_one_file(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD_ITEM.format(id="twice") + GOOD_ITEM.format(id="twice"))
    with pytest.raises(BankError, match=r"item 'twice': field 'id': duplicate id"):
        load_file(path)


def test_duplicate_id_across_bank_files(tmp_path: Path) -> None:
    headline = (Path(__file__).parents[1] / "questions" / "bank" / "headline.yaml").read_text()
    _write(tmp_path, headline, "headline.yaml")
    _write(tmp_path, GOOD_ITEM.format(id="same-id"), "organisations.yaml")
    _write(tmp_path, GOOD_ITEM.format(id="same-id"), "leaders.yaml")
    with pytest.raises(BankError) as caught:
        load_bank_from(tmp_path)
    message = str(caught.value)
    assert "leaders.yaml: item 'same-id': field 'id': duplicate id" in message
    assert "organisations.yaml" in message


def test_trust_file_cannot_reuse_a_shipped_id(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD_ITEM.format(id="ldr3-planning-voice"))
    with pytest.raises(BankError, match="shipped bank"):
        cli.import_file(path)


def test_missing_id_is_reported_by_index(tmp_path: Path) -> None:
    body = GOOD_ITEM.format(id="first") + GOOD_ITEM.format(id="x").replace("  - id: x\n", "  -\n")
    path = _write(tmp_path, body)
    with pytest.raises(BankError, match=r"item at index 1: field 'id': is required"):
        load_file(path)


def test_trust_file_cannot_declare_a_headline(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD_ITEM.format(id="mine") + "    headline: true\n")
    with pytest.raises(BankError, match="field 'headline'"):
        load_file(path)


def test_duplicate_yaml_key_and_broken_yaml(tmp_path: Path) -> None:
    dup = _write(tmp_path, GOOD_ITEM.format(id="dup") + "    scale: agree5\n", "dup.yaml")
    with pytest.raises(BankError, match="duplicate key 'scale'"):
        load_file(dup)
    broken = _write(tmp_path, "items: [\n", "broken.yaml")
    with pytest.raises(BankError, match=r"broken.yaml: not valid YAML"):
        load_file(broken)


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    return parser.parse_args(argv)


def test_cli_json_lists_the_bank() -> None:
    out = io.StringIO()
    assert cli.run(_args("--json"), out) == 0
    data = json.loads(out.getvalue())
    assert len(data) == len(load_bank().items)
    keys = {"id", "text", "scale", "theme", "source", "audience", "reverse", "help", "headline"}
    assert all(set(row) == keys for row in data)
    assert sum(row["headline"] for row in data) == 1


def test_cli_table_has_rows_and_coverage() -> None:
    out = io.StringIO()
    assert cli.run(_args(), out) == 0
    text = out.getvalue()
    assert "ldr3-planning-voice" in text
    assert "checklist:leaders:3" in text and "MISSING" not in text
    assert max(len(line) for line in text.splitlines()) <= cli.TABLE_WIDTH


def test_cli_table_flags_missing_coverage() -> None:
    out = io.StringIO()
    cli.print_table([load_bank().by_id("ldr3-planning-voice")], out)
    assert re.search(r"^checklist:leaders:3 +1 item  low$", out.getvalue(), re.M)
    assert re.search(r"^checklist:leaders:4 +0 items  MISSING$", out.getvalue(), re.M)


def test_cli_check(tmp_path: Path) -> None:
    good = _write(tmp_path, GOOD_ITEM.format(id="trust-ok"), "good.yaml")
    bad = _write(tmp_path, GOOD_ITEM.format(id="trust-no") + "    extra: 1\n", "bad.yaml")
    out = io.StringIO()
    assert cli.run(_args("--check", str(good)), out) == 0
    assert out.getvalue() == "OK: 1 items\n"
    out = io.StringIO()
    assert cli.run(_args("--check", str(bad)), out) == 2
    assert "item 'trust-no': field 'extra'" in out.getvalue()


def test_cli_import_hands_items_to_store(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD_ITEM.format(id="trust-new"))
    stored: list[QuestionItem] = []
    out = io.StringIO()
    assert cli.run(_args("import", str(path)), out, store=stored.extend) == 0
    assert [item.id for item in stored] == ["trust-new"]
