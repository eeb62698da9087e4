"""The leaders' self-assessment: validation, the current view (latest per leader in the latest
quarter), history kept across quarters, the modal within Slack's limits, and the workshop page."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import matplotlib.image as mpimg
import pytest
from sqlalchemy import select

from bot.insights import checklist, gap
from bot.insights import checklist_chart as checklist_export
from bot.people.workspaces import ensure_team
from integrations.slack.listeners.modals import checklist_modal
from storage.models import AssessmentRating, AuditEntry
from tests.blockkit import validate

REFS = list(checklist.QUESTIONS)


def _all(rating: int) -> dict[str, int]:
    return dict.fromkeys(REFS, rating)


def test_fourteen_questions_from_both_halves_of_the_checklist():
    assert len(REFS) == 14
    for group in ("organisations", "leaders"):
        assert [r for r in REFS if f":{group}:" in r] == [
            f"checklist:{group}:{n}" for n in range(1, 8)
        ]
    assert all(10 < len(q) < 200 for q in checklist.QUESTIONS.values())


@pytest.mark.parametrize(
    ("rating", "score"), [(1, 0.0), (2, 25.0), (3, 50.0), (4, 75.0), (5, 100.0), (3.5, 62.5)]
)
def test_ratings_map_onto_0_100(rating, score):
    assert checklist.to_0_100(rating) == score


@pytest.mark.parametrize(
    ("month", "cycle"),
    [(1, "2026-Q1"), (3, "2026-Q1"), (4, "2026-Q2"), (9, "2026-Q3"), (12, "2026-Q4")],
)
def test_quarters(month, cycle):
    assert checklist.cycle_of(datetime(2026, month, 15, tzinfo=UTC)) == cycle


@pytest.mark.parametrize(
    "ratings",
    [{}, {"checklist:organisations:8": 3}, {REFS[0]: 0}, {REFS[0]: 6}, {"theme:x": 3}],
)
def test_invalid_assessments_are_refused_and_nothing_is_stored(core, fake, ratings):
    ws = ensure_team(core, fake.team_id)
    with pytest.raises(ValueError):
        checklist.record(core, ws, "ULEAD", ratings, {})
    assert checklist.leadership_view(core, ws).leaders == 0
    assert checklist.history(core, ws) == {}


def test_no_assessment_yet(core, fake):
    view = checklist.leadership_view(core, ensure_team(core, fake.team_id))
    assert view == checklist.LeadershipView(None, 0, {}, {})


def test_team_view_is_the_mean_of_each_leaders_latest_rating(core, fake, clock):
    ws = ensure_team(core, fake.team_id)
    checklist.record(core, ws, "UA", _all(1), {})
    clock.advance(timedelta(hours=1))
    checklist.record(core, ws, "UB", _all(4), {})
    clock.advance(timedelta(hours=1))
    checklist.record(core, ws, "UA", _all(2) | {REFS[0]: 5}, {})  # UA changes their mind
    view = checklist.leadership_view(core, ws)
    assert view.cycle == "2026-Q4" and view.leaders == 2
    assert view.score[REFS[0]] == checklist.to_0_100((5 + 4) / 2)
    assert view.score[REFS[5]] == checklist.to_0_100((2 + 4) / 2)
    assert set(view.raters.values()) == {2}


def test_a_partial_assessment_counts_only_where_rated(core, fake):
    ws = ensure_team(core, fake.team_id)
    checklist.record(core, ws, "UA", _all(3), {})
    checklist.record(core, ws, "UB", {REFS[0]: 5}, {})
    view = checklist.leadership_view(core, ws)
    assert view.raters[REFS[0]] == 2 and view.raters[REFS[1]] == 1
    assert view.score[REFS[0]] == 75.0 and view.score[REFS[1]] == 50.0


def test_a_new_quarter_starts_a_new_view_and_history_is_kept(core, fake, clock):
    ws = ensure_team(core, fake.team_id)
    checklist.record(core, ws, "UA", _all(1), {})
    checklist.record(core, ws, "UB", _all(1), {})
    clock.advance(timedelta(days=40))  # 24 Nov -> 3 Jan: next quarter
    checklist.record(core, ws, "UA", _all(5), {})
    view = checklist.leadership_view(core, ws)
    assert view.cycle == "2027-Q1" and view.leaders == 1  # UB's old rating is history only
    assert view.score[REFS[3]] == 100.0
    assert checklist.history(core, ws) == {"2026-Q4": 2, "2027-Q1": 1}


def test_notes_are_kept_trimmed_and_bounded_and_the_submission_audited(core, fake):
    ws = ensure_team(core, fake.team_id)
    notes = {REFS[0]: "  Job plans include 1 PA  ", REFS[1]: "   ", REFS[2]: "x" * 5000}
    aid = checklist.record(core, ws, "UA", _all(3), notes)
    with core.db.Session() as s:
        stored = dict(
            s.execute(
                select(AssessmentRating.ref, AssessmentRating.note).where(
                    AssessmentRating.assessment_id == aid
                )
            ).all()
        )
        audit = s.scalars(select(AuditEntry).where(AuditEntry.workspace_id == ws)).all()
    assert stored[REFS[0]] == "Job plans include 1 PA"
    assert stored[REFS[1]] is None and stored[REFS[3]] is None
    assert len(stored[REFS[2]]) == 1000
    assert [(a.actor, a.action) for a in audit] == [("UA", "checklist self-assessment")]


def test_the_modal_fits_slacks_limits():
    view = checklist_modal()
    assert validate(view["blocks"], surface="modal") == []
    rates = [b for b in view["blocks"] if b.get("block_id", "").startswith("rate|")]
    notes = [b for b in view["blocks"] if b.get("block_id", "").startswith("note|")]
    assert [b["block_id"][5:] for b in rates] == REFS
    assert all(b.get("optional") for b in notes) and not any(b.get("optional") for b in rates)
    for b in rates:
        assert [o["value"] for o in b["element"]["options"]] == ["1", "2", "3", "4", "5"]
    assert len(view["title"]["text"]) <= 24  # modal titles are capped at 24 characters


def _row(ref, lead, doc, n, flagged=False):
    ci = (doc - 10, doc + 10) if doc is not None else None
    g = lead - doc if lead is not None and doc is not None else None
    return gap.GapRow(ref, checklist.QUESTIONS[ref], lead, 1, doc, ci, n, g, flagged)


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    img = mpimg.imread(io.BytesIO(data), format="png")
    return img.shape[1], img.shape[0]


def test_the_workshop_page_is_a_landscape_png_with_every_kind_of_row():
    rows = [
        _row(REFS[0], 100.0, 40.0, 30, flagged=True),
        _row(REFS[1], 50.0, 45.0, 30),
        _row(REFS[2], None, 60.0, 30),
        _row(REFS[3], 75.0, None, 3),  # fewer than k: text, no number
        _row(REFS[4], 75.0, None, 0),
        *(_row(r, None, None, 0) for r in REFS[5:]),
    ]
    view = checklist.LeadershipView("2026-Q4", 2, {}, {})
    png = checklist_export.draw_page(
        rows, view, 5, "Northfield NHS Trust", datetime(2026, 11, 24, tzinfo=UTC), 3
    )
    width, height = _png_size(png)
    assert width > height and width >= 1500 and height >= 1000
    assert 20_000 < len(png) < 2_000_000
    cells = checklist_export._cells(rows[3], 5)
    assert cells[1].replace("\n", " ") == "fewer than 5 responses" and cells[2] == "–"
    assert checklist_export._cells(rows[0], 5) == ("100", "40 (30–50)", "+60")
    assert checklist_export._cells(rows[1], 5)[2] == "within"


def test_the_page_draws_from_an_empty_workspace(core, fake):
    png = checklist_export.page_png(core, ensure_team(core, fake.team_id), "Empty Trust")
    width, height = _png_size(png)
    assert width > height >= 1000
