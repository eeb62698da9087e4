"""Until the core speaks only ``bot.chat`` (issue 15): the few core paths that still call
Slack-shaped gateway methods, done for Teams workspaces through ``TeamsGateway``.

DELETE AT MERGE, once the core's outbox sends ``PulseView`` with ``send_dm``, closing sends
``ClosedPulseView`` with ``update``, posting sends ``SummaryView`` + ``Image`` with
``post_channel`` and audience sync calls ``members(source)`` (helper "gateway"):

* ``Worker``: the core's ``DeliveryWorker`` (its claims, leases, fairness, reminders and close
  tidy-up unchanged), whose send and tidy steps take the ``bot.chat`` path for a Teams
  workspace and the Slack path for every other.
* ``pulse_view`` / ``closed_view``: the view models the core will build itself.
* ``post_summary``: a summary and its chart into a Teams channel.
* ``RosterShim``: ``channel_members``/``users``, the two calls ``bot.people.audience`` makes
  today, answered from ``members(team)``.
"""

from __future__ import annotations

import logging
import math
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from bot.chat import errors, views
from bot.chat.gateway import Member
from bot.chat.ids import MessageRef
from bot.core import Core
from bot.delivery.outbox import DeliveryWorker, Job
from bot.insights import alt_text, charts
from bot.insights import posting as core_posting
from bot.rounds import closing
from bot.rounds.pulse_view import PRIVACY, Question, answer_value, pulse_text
from questions import scales
from storage.models import Delivery, Participant, Workspace

log = logging.getLogger("medpulse.msteams.bridge")

CLOSED_TEXT = (
    "This medpulse pulse has closed. The next one will come to you here.\n"
    "See what everyone's answers add up to: send me *my results*."
)


def is_teams(gw: object) -> bool:
    return getattr(gw, "platform", None) == "teams"


def pulse_view(
    round_id: int,
    questions: list[Question],
    k: int,
    closes: str,
    reminder: bool = False,
    action_note: str | None = None,
) -> views.PulseView:
    """The pulse as the core will hand it over: the same words as the Slack DM."""
    n = len(questions)
    if reminder:
        intro = (
            f"*A gentle reminder* · your anonymous pulse is open until {closes}. "
            "One tap per question, about 30 seconds."
        )
    else:
        intro = (
            f"*Your medical engagement pulse* · {n} quick questions, about 30 seconds, "
            f"anonymous. Open until {closes}."
        )
    if action_note:
        intro += f"\n\n📣 *You said, we did:* {action_note}"
    qs = tuple(
        views.QuestionView(
            version_id=q.version_id,
            number=i,
            text=q.text,
            choices=tuple(
                views.Choice(v, label, answer_value(round_id, q.version_id, v))
                for v, label in scales.choices(q.scale)
            ),
            hint=scales.hint(q.scale),
        )
        for i, q in enumerate(questions, 1)
    )
    return views.PulseView(
        round_id=round_id,
        intro=intro,
        questions=qs,
        privacy=PRIVACY.format(k=k),
        closes=closes,
        fallback=pulse_text(n),
        reminder=reminder,
    )


def closed_view() -> views.ClosedPulseView:
    return views.ClosedPulseView(CLOSED_TEXT.split("\n")[0], CLOSED_TEXT.split("\n")[1])


class Worker(DeliveryWorker):
    """The core's delivery worker, sending to Teams workspaces through ``bot.chat``."""

    def _send(self, job: Job, info: dict, questions: list[Question]) -> None:
        gw = self.core.gateway(info["team"])
        if not is_teams(gw):
            super()._send(job, info, questions)
            return
        closes = info["closes"].astimezone(ZoneInfo(info["tz"])).strftime("%A %-d %B")
        note = self._latest_action(info) if job.kind == "pulse" else None
        view = pulse_view(
            info["round_id"], questions, self.core.k, closes, job.kind == "reminder", note
        )
        try:
            ref = gw.send_dm(info["user"], view, tag=f"{job.kind}:{job.delivery_id}")
        except errors.RateLimited as exc:
            self._release(job, delay=exc.retry_after or 1.0)
        except errors.Transient:
            self._release(job, attempt=True, delay=self.backoff * 10)
        except errors.Undeliverable as exc:
            self._undeliverable(job, exc.error[:64])
        except errors.Permanent as exc:  # includes DeliveryUncertain: never sent again
            log.warning("delivery %s not sent to Teams: %s", job.delivery_id, exc.error)
            self._fail(job, exc.error[:64])
            gw.routes.release(f"{job.kind}:{job.delivery_id}")  # the row's "failed" is final
        else:
            self._done(job, info, ref.conversation, ref.message)

    def _room(self, team_of: dict[int, str]) -> dict[int, int]:
        """A Teams tenant is paced by its own ``TenantPacer`` (every call counts, not only
        sends), not by the Slack-tuned limiter the core keys by workspace: it may have a
        second's worth of pulses in flight (two calls each), within the pool's size."""
        room = super()._room(team_of)
        teams = getattr(self.core.gateway_for, "teams", None)
        if teams is None:
            return room
        with self._inflight_lock:
            held = dict(self._inflight)
        allowed = min(self.concurrency, math.ceil(self.core.settings.teams_rate / 2) + 1)
        for ws, team in team_of.items():
            if team == teams.routes.tenant_id:
                room[ws] = allowed - held.get(ws, 0)
        return room

    def _run_job(self, job: Job) -> None:
        if job.kind == "tidy" and not self.stopping.is_set():
            gw = self._gateway_of(job)
            if gw is not None and is_teams(gw):
                try:
                    tidy(self, gw, job)
                except Exception:
                    log.exception("closing Teams delivery %s failed", job.delivery_id)
                    self._release(job, attempt=True, delay=self.backoff * 10)
                return
        super()._run_job(job)

    def _gateway_of(self, job: Job):
        with self.core.db.Session() as s:
            team = s.scalar(
                select(Workspace.team_id)
                .join(Delivery, Delivery.workspace_id == Workspace.id)
                .where(Delivery.id == job.delivery_id)
            )
        try:
            return self.core.gateway(team) if team else None
        except RuntimeError:
            return None


def tidy(worker: DeliveryWorker, gw, job: Job) -> None:
    """Every pulse card of a closed round becomes the same closed card, its reminder card is
    deleted, and the send ledger forgets both (a ledger row for a reminder would say who had
    not answered)."""
    with worker.core.db.Session() as s:
        row = s.execute(
            select(
                Delivery.round_id,
                Delivery.conversation_id,
                Delivery.message_id,
                Delivery.reminder_message_id,
            )
            .join(Participant, Participant.id == Delivery.participant_id)
            .where(Delivery.id == job.delivery_id)
        ).one_or_none()
    if row is None:
        return
    round_id, channel, ts, reminder_message_id = row
    try:
        if channel and reminder_message_id:
            _gone_ok(lambda: gw.delete(MessageRef(channel, reminder_message_id)))
        if channel and ts:
            _gone_ok(lambda: gw.update(MessageRef(channel, ts), closed_view()))
    except (errors.Transient, errors.RateLimited) as exc:
        worker._release(job, delay=getattr(exc, "retry_after", None) or 1.0)
        return
    gw.routes.release(f"pulse:{job.delivery_id}")
    gw.routes.release(f"reminder:{job.delivery_id}")
    closing._tidied(worker.core, job.delivery_id, round_id)
    with worker.core.db.Session() as s:
        left = s.scalar(
            select(func.count(Delivery.id)).where(
                Delivery.round_id == round_id, Delivery.tidy.in_(("pending", "sending"))
            )
        )
    if not left:  # the round's last card: old versions of the ledger's rows go from disk too
        worker.core.db.scrub(("sent_messages",))


def _gone_ok(call) -> None:
    """A message already gone, or a person who blocked the app: nothing left to tidy."""
    try:
        call()
    except (errors.Permanent, errors.Undeliverable) as exc:
        log.info("closing a Teams card: %s; leaving it", exc.error)


def summary_view(core: Core, ws_id: int, department: str | None = None):
    """(view, image) of the summary the Slack post shows, from the same model and claims."""
    # With its detail: Teams has no "More detail" button to open the rest.
    model, title, text, blocks = core_posting.render(core, ws_id, department, detail=True)
    sections = []
    for block in blocks:
        if block.get("type") == "section" and isinstance(block.get("text"), dict):
            first, _, rest = block["text"]["text"].partition("\n")
            sections.append(views.Section(first, tuple(x for x in rest.split("\n") if x)))
        elif block.get("type") == "context":
            sections.append(
                views.Section("", tuple(e.get("text", "") for e in block.get("elements", [])))
            )
    view = views.SummaryView(
        title=title, headline="", sections=tuple(sections), fallback=text[:200]
    )
    image = None
    if model.suppressed_reason is None:
        png = charts.summary_png(model, title)
        image = views.Image(png, alt_text.summary_chart(model, title), "medpulse-summary.png")
    return view, image


def post_summary(core: Core, team_id: str, channel: str, department: str | None = None):
    """Post a summary and its chart into a Teams team's channel (on demand)."""
    with core.db.Session() as s:
        ws_id = s.scalar(select(Workspace.id).where(Workspace.team_id == team_id))
    view, image = summary_view(core, ws_id, department)
    ref = core.gateway(team_id).post_channel(channel, view, image)
    core_posting._claim(core, ws_id, channel, f"demand:{ref.message}"[:64])
    return ref, view, image


class RosterShim:
    """``channel_members`` and ``users`` as ``bot.people.audience.sync_audience`` calls them
    today, answered from ``TeamsGateway.members`` (one roster read per sync)."""

    def __init__(self, gateway) -> None:
        self.gateway = gateway
        self._seen: dict[str, Member] = {}

    def channel_members(self, channel: str) -> list[str]:
        members = list(self.gateway.members(channel))
        self._seen.update({m.user_id: m for m in members})
        return [m.user_id for m in members]

    def users(self) -> list[Member]:
        return list(self._seen.values())

    def delete(self, ref, ts: str | None = None) -> None:
        """``delete(channel, ts)`` as ``bot.admin.retention.forget`` calls it today, or a ref."""
        self.gateway.delete(ref if ts is None else MessageRef(ref, ts))

    def __getattr__(self, name: str):
        return getattr(self.gateway, name)
