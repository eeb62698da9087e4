"""What the database must say at each step of a whole round, shared by the Slack round test
(tests/test_round_e2e.py) and its Teams port (tests/test_teams_attacks.py).

Each platform drives its own round (taps, comments, reminder, close, tidy-up); what is stored
after each step does not depend on the platform, so the checks live here once.
"""

from __future__ import annotations

from sqlalchemy import func, select

from bot.admin import status
from storage.models import Comment, Delivery, Participant, Response, Round, RoundParticipation


def check_answers_stored(core, expected: dict[int, list[int]]) -> list[Response]:
    """Exactly the first tap of each (person, question) is stored: ``expected`` maps a question
    version to its values (double taps counted once). Returns the stored answers."""
    with core.db.Session() as s:
        stored = s.scalars(select(Response)).all()
    assert len(stored) == sum(len(v) for v in expected.values())
    by_version: dict[int, list[int]] = {}
    for r in stored:
        by_version.setdefault(r.version_id, []).append(r.value)
    assert {k: sorted(v) for k, v in by_version.items()} == {
        k: sorted(v) for k, v in expected.items()
    }
    return stored


def check_live_participation(core, workspace: str, sent: int, responded: int) -> None:
    """Live participation, worked out from the answer links (nothing stores who answered)."""
    live = status.status(core, workspace).last
    assert (live.sent, live.responded, live.status) == (sent, responded, "open")


def check_closed(core, stored: int, invited: int, responded: int) -> None:
    """Just after close: the round's counts frozen, every answer link gone, the ``stored``
    answers kept, and every identity row of the round reads the same (no reminder state)."""
    with core.db.Session() as s:
        frozen = s.execute(
            select(func.sum(RoundParticipation.invited), func.sum(RoundParticipation.responded))
        ).one()
        assert tuple(frozen) == (invited, responded)
        assert s.scalar(select(Round.status)) == "closed"
        assert s.scalar(select(func.count()).where(Response.link_hash.is_not(None))) == 0
        assert s.scalar(select(func.count()).where(Comment.link_hash.is_not(None))) == 0
        assert s.scalar(select(func.count(Response.id))) == stored
        assert s.scalar(select(func.count(Participant.id))) >= invited
        assert set(s.scalars(select(Delivery.reminder))) == {"none"}


def check_tidied(core) -> None:
    """After the tidy-up: every delivery done, no reminder's message ID left to delete."""
    with core.db.Session() as s:
        assert set(s.scalars(select(Delivery.tidy))) == {"done"}
        assert set(s.scalars(select(Delivery.reminder_message_id))) == {None}
