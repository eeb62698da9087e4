"""Fair delivery between trusts: claims share a batch between workspaces, a workspace paused by
Slack's 429 holds no send thread and no claim while another trust's DMs wait, and a manual round
cannot be started while the audience's previous one is still being sent."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from bot.chat.ids import Tenant
from bot.delivery.outbox import HOLD, DeliveryWorker, Job, fair_shares, interleave
from storage.models import Delivery, Workspace
from tests.helpers import deliver_all
from tests.multi import TEAMS, installer
from tests.test_admin_commands import say

A, B, C = TEAMS


def test_fair_shares_split_equally_and_pass_on_what_a_small_trust_cannot_use():
    assert fair_shares({1: 120, 2: 6}, 20) == {1: 14, 2: 6}
    assert fair_shares({1: 120, 2: 50, 3: 2}, 30) == {1: 14, 2: 14, 3: 2}
    assert fair_shares({1: 3}, 200) == {1: 3}
    assert sum(fair_shares({1: 10, 2: 10, 3: 10}, 7).values()) == 7


def test_interleave_alternates_workspaces():
    jobs = [Job(i, "pulse", 1) for i in range(4)] + [Job(10, "pulse", 2), Job(11, "pulse", 2)]
    assert [j.workspace_id for j in interleave(jobs)] == [1, 2, 1, 2, 1, 1]


def _round(region, team: str, doctors: int) -> None:
    fake, slack = region.fake, region.sender(team)
    ids = [f"U{team[-1]}F{i:04d}" for i in range(doctors)]
    for uid in ids:
        fake.add_user(uid, team_id=team)
    fake.add_channel("CF" + team, "flood", members=ids, team_id=team)
    assert f"{doctors} doctors" in say(fake, slack, f"audience <#CF{team}|flood>", installer(team))
    assert "Round started" in say(fake, slack, "send now", installer(team))


def _statuses(core, team: str) -> dict[str, int]:
    with core.db.Session() as s:
        return dict(
            s.execute(
                select(Delivery.status, func.count())
                .join(Workspace, Workspace.id == Delivery.workspace_id)
                .where(Workspace.team_id == team)
                .group_by(Delivery.status)
            ).all()
        )


def test_a_claim_never_gives_one_trusts_backlog_the_whole_batch(region):
    _round(region, A, 60)  # the older backlog: oldest-first would take only A's rows
    _round(region, B, 6)
    worker = DeliveryWorker(region.core, concurrency=4, batch=20)
    try:
        jobs = worker._claim("pulse")
    finally:
        worker.shutdown()
    with region.core.db.Session() as s:
        team_of = dict(s.execute(select(Workspace.id, Workspace.team_id)).all())
    teams = [team_of[j.workspace_id] for j in jobs]
    # B gets all it has due; A at most the rest of the batch, and no more than its limiter can
    # send soon (rows claimed beyond that would only wait in the pool ahead of other trusts).
    assert teams.count(B) == 6 and 1 <= teams.count(A) <= 14
    assert teams.count(A) <= worker.limiters.useful(Tenant("slack", A), horizon=HOLD)
    assert teams[:4] == [A, B, A, B]


def test_a_throttled_trust_holds_no_thread_while_another_trusts_dms_go_out(region):
    core = region.core
    _round(region, A, 40)
    _round(region, B, 6)
    worker = DeliveryWorker(core, concurrency=2, backoff=0.01)
    try:
        worker.limiters.for_tenant(Tenant("slack", A)).penalise(600)  # Slack said: wait ten minutes
        assert worker.run_once() == 6
        assert worker.held_back  # A had work due and was left out
    finally:
        worker.shutdown()
    assert _statuses(core, B) == {"sent": 6}
    assert _statuses(core, A) == {"pending": 40}
    with core.db.Session() as s:
        assert s.scalar(select(func.max(Delivery.attempts))) == 0  # waiting is not a failure


def test_a_send_that_meets_a_pause_gives_its_row_and_thread_back(region):
    core, fake = region.core, region.fake
    _round(region, A, 8)
    fake.fail_next("chat.postMessage", status=429, retry_after=30)
    worker = DeliveryWorker(core, concurrency=1, backoff=0.01)
    try:
        jobs = worker._claim("pulse")
        worker._run_job(jobs[0])  # 429: A is paused for 30 s, the job goes back at once
        assert worker.limiters.for_tenant(Tenant("slack", A)).ready_in() > 20
        for job in jobs[1:]:
            worker._run_job(job)  # each hands its row back instead of sleeping 30 s
    finally:
        worker.shutdown()
    assert _statuses(core, A) == {"pending": 8}
    assert len(fake.calls_to("chat.postMessage")) == 1


def test_send_now_is_refused_while_the_previous_round_is_still_sending(region, clock):
    fake, core, slack = region.fake, region.core, region.sender(A)
    assert "6 doctors" in say(fake, slack, "audience <#CT0AAA|doctors>", installer(A))
    assert "Round started" in say(fake, slack, "send now", installer(A))
    again = say(fake, slack, "send now", installer(A))
    assert "previous round is still being sent (6 DMs to go)" in again
    assert "Round started" not in again
    deliver_all(core)
    clock.advance(timedelta(minutes=5))
    assert "Round started" in say(fake, slack, "send now", installer(A))
