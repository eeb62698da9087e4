"""``medpulse questions``: list the bank, check a trust's file, hand a file over for import.

The lead wires this into the main argparse CLI with :func:`add_arguments` and :func:`run`.
Storing imported items is the database's job, so :func:`run` takes a ``store`` callback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TextIO

from questions.grades import GRADES
from questions.loader import coverage, load_bank, load_file
from questions.model import BankError, QuestionItem
from questions.themes import THEMES

TABLE_WIDTH = 120
_MIN_TEXT = 30
_GAP = "  "


#: Short theme and scale names for the table; the JSON output keeps the full names.
THEME_SHORT = {name: name.split("-")[0] for name in THEMES} | {
    "medical-leadership-structure": "med-leadership",
}
_PART_SHORT = {"organisations": "org", "leaders": "ldr"}
SCALE_SHORT = {"agree5": "agree5", "scale0_10": "0-10", "yes_no_unsure": "yes/no/?"}


def _short_source(item: QuestionItem) -> str:
    """Source without the redundant prefix, so the text column keeps its room."""
    ref = item.checklist_ref
    if ref is not None:
        return f"{_PART_SHORT[ref[0]]}:{ref[1]}"
    return "theme" if item.source.startswith("theme:") else item.source


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def print_table(items: Sequence[QuestionItem], out: TextIO = sys.stdout) -> None:
    """A fixed-width table of items, then one coverage line per checklist question."""
    rows = [
        (i.id, THEME_SHORT[i.theme], _short_source(i), SCALE_SHORT[i.scale], i.text) for i in items
    ]
    header = ("id", "theme", "source", "scale", "text")
    widths = [max(len(r[c]) for r in [header, *rows]) for c in range(4)]
    used = sum(widths) + len(_GAP) * 4
    text_width = max(TABLE_WIDTH - used, _MIN_TEXT)
    for row in [header, *rows]:
        cells = [cell.ljust(w) for cell, w in zip(row, widths, strict=False)]
        out.write(_GAP.join([*cells, _clip(row[4], text_width)]).rstrip() + "\n")
    out.write("\n")
    out.write(f"{len(items)} items ({sum(1 for i in items if i.headline)} headline)\n")
    cover = coverage(items)
    ref_width = max(len(ref) for ref in cover)
    for ref, ids in cover.items():
        status = "ok" if len(ids) >= 2 else ("low" if ids else "MISSING")
        noun = "item" if len(ids) == 1 else "items"
        out.write(f"{ref.ljust(ref_width)}  {len(ids)} {noun}  {status}\n")


def item_dict(item: QuestionItem) -> dict[str, object]:
    """The public JSON shape of an item (audience as a list, or the string 'all')."""
    return {
        "id": item.id,
        "text": item.text,
        "scale": item.scale,
        "theme": item.theme,
        "source": item.source,
        "audience": item.audience if item.audience == "all" else list(item.audience),
        "reverse": item.reverse,
        "help": item.help,
        "headline": item.headline,
    }


def print_json(items: Iterable[QuestionItem], out: TextIO = sys.stdout) -> None:
    """Items as a JSON list, for scripts and for the admin UI's preview."""
    json.dump([item_dict(item) for item in items], out, indent=2, ensure_ascii=False)
    out.write("\n")


def check_file(path: str | Path, out: TextIO = sys.stdout) -> int:
    """Validate a question file; print 'OK: N items' or the error. Returns the exit code
    (2: the file is bad input the operator can fix)."""
    try:
        items = import_file(path)
    except BankError as exc:
        out.write(f"error: {exc}\n")
        return 2
    out.write(f"OK: {len(items)} items\n")
    return 0


def import_file(path: str | Path) -> list[QuestionItem]:
    """Validate a trust's file for import; ids may not clash with the shipped bank.

    Hook for ``medpulse questions import FILE``: the caller writes the returned items to
    the database (and checks them against earlier imports there).
    """
    return load_file(
        path, existing_ids=(item.id for item in load_bank()), existing_label="the shipped bank"
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``questions`` options to a (sub)parser."""
    parser.add_argument(
        "action",
        nargs="?",
        choices=("list", "import"),
        default="list",
        help="list the bank (default) or import FILE as a trust's own set",
    )
    parser.add_argument("file", nargs="?", help="question file for 'import'")
    parser.add_argument("--json", action="store_true", help="print items as JSON")
    parser.add_argument("--check", metavar="FILE", help="validate a question file and exit")
    parser.add_argument(
        "--audience",
        choices=(*GRADES, "unknown"),
        help="only items asked of this grade ('unknown': items for all doctors)",
    )


def run(
    args: argparse.Namespace,
    out: TextIO | None = None,
    store: Callable[[list[QuestionItem]], None] | None = None,
) -> int:
    """Carry out ``medpulse questions``; returns the process exit code."""
    out = out or sys.stdout
    if args.check:
        return check_file(args.check, out)
    if args.action == "import":
        return _run_import(args.file, out, store)
    bank = load_bank()
    items: Sequence[QuestionItem] = bank.items
    if args.audience:
        grade = None if args.audience == "unknown" else args.audience
        items = bank.for_audience(grade, include_headline=True)
    if args.json:
        print_json(items, out)
    else:
        print_table(items, out)
    return 0


def _run_import(
    file: str | None, out: TextIO, store: Callable[[list[QuestionItem]], None] | None
) -> int:
    if not file:
        out.write("error: import needs a FILE\n")
        return 2
    try:
        items = import_file(file)
    except BankError as exc:
        out.write(f"error: {exc}\n")
        return 2
    if store is None:
        out.write("error: import needs a database; no store was configured\n")
        return 2
    store(items)
    out.write(f"Imported {len(items)} items\n")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Stand-alone entry (``python -m questions.cli``) for use before the CLI is wired."""
    parser = argparse.ArgumentParser(prog="medpulse questions")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
