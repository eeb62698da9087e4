"""``/pulse status`` and the admin App Home at a glance: audience, schedule, last round.

The last round's response rate is participation, not answers, but it is still a figure about a
group of people, so it follows the same rule as every other figure: shown only when at least
``k`` people answered (``storage.anonymity.protect``).

While a round is open the count moves as doctors answer, and a leader watching a colleague tap
could see it move by one: so an open round's count is shown only in whole steps of ``k`` ("at
least 10 of 60 so far"); it moves once every ``k`` answers, not with each. The exact figure is
published when the round closes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from bot.admin import schedule as schedules
from bot.admin.operations import AdminError, workspace
from bot.core import Core
from bot.rounds import answers
from storage.anonymity import Suppressed, protect
from storage.models import (
    Audience,
    Delivery,
    LeaderChannel,
    Participant,
    Round,
    RoundParticipation,
)


@dataclass(frozen=True)
class LastRound:
    created_at: datetime
    status: str  # open | closed
    manual: bool
    sent: int
    responded: int
    rate: float | Suppressed | None  # None when nobody was sent anything yet
    step: int = 1  # an open round's count is shown in whole steps of this (``live_count``)


@dataclass(frozen=True)
class Status:
    configured: bool
    audience_name: str | None = None
    audience_size: int = 0
    opted_out: int = 0
    schedule: schedules.Snapshot | None = None
    last: LastRound | None = None
    leader_channels: int = 0
    timezone: str = "Europe/London"

    @property
    def paused(self) -> bool:
        return bool(self.schedule and self.schedule.settings.paused)


def status(core: Core, team_id: str) -> Status:
    with core.db.Session() as s:
        ws = workspace(s, team_id)
        audience = s.scalar(select(Audience).where(Audience.workspace_id == ws.id))
        channels = s.scalar(
            select(func.count(LeaderChannel.id)).where(LeaderChannel.workspace_id == ws.id)
        )
        if audience is None:
            return Status(False, leader_channels=channels, timezone=ws.timezone)
        size, opted = _audience_counts(s, audience.id)
        last = _last_round(core, s, audience.id)
        name = audience.name or audience.channel_id
    snap = schedules.read(core, team_id)
    return Status(True, name, size, opted, snap, last, channels, snap.settings.timezone)


def _audience_counts(s, audience_id: int) -> tuple[int, int]:
    base = select(func.count(Participant.id)).where(
        Participant.audience_id == audience_id, Participant.active.is_(True)
    )
    asked = s.scalar(base.where(Participant.opted_out.is_(False)))
    opted = s.scalar(base.where(Participant.opted_out.is_(True)))
    return asked or 0, opted or 0


def _last_round(core: Core, s, audience_id: int) -> LastRound | None:
    k = core.k
    rnd = s.scalar(
        select(Round)
        .where(Round.audience_id == audience_id)
        .order_by(Round.created_at.desc(), Round.id.desc())
        .limit(1)
    )
    if rnd is None:
        return None
    if rnd.status == "closed":
        sent, responded = s.execute(
            select(
                func.coalesce(func.sum(RoundParticipation.invited), 0),
                func.coalesce(func.sum(RoundParticipation.responded), 0),
            ).where(RoundParticipation.round_id == rnd.id)
        ).one()
    else:
        sent = s.scalar(
            select(func.count(Delivery.id)).where(
                Delivery.round_id == rnd.id, Delivery.status == "sent"
            )
        )
        responded = live_count(len(_answered_so_far(core, s, rnd.id)), k)
    sent, responded = int(sent or 0), int(responded or 0)
    rate = protect(responded / sent, responded, k) if sent else None
    step = k if rnd.status == "open" else 1
    return LastRound(rnd.created_at, rnd.status, rnd.manual, sent, responded, rate, step)


def live_count(answered: int, k: int) -> int:
    """An open round's count as shown: down to a whole step of ``k`` (see the module notes)."""
    return answered - answered % k


def _answered_so_far(core: Core, s, round_id: int) -> set[int]:
    """Deliveries of an open round whose person has answered: derived from the answer links
    under the key in configuration (nothing in the database records it)."""
    rows = s.execute(
        answers.asked_rows(select(*answers.ASKED_COLUMNS)).where(
            Delivery.round_id == round_id, Delivery.status == "sent"
        )
    ).all()
    return answers.answered(core, s, [answers.Asked(*r) for r in rows])


def rate_text(last: LastRound) -> str:
    """ "34 of 60 answered (57%)", or the k-label when too few answered to show a figure."""
    if last.rate is None:
        return "no pulses delivered yet"
    if isinstance(last.rate, Suppressed):
        return f"{last.rate} so far" if last.status == "open" else str(last.rate)
    if last.status == "open":
        return (
            f"at least {last.responded} of {last.sent} answered so far (counted in steps of "
            f"{last.step} while the round is open, so no single answer moves it; exact at close)"
        )
    return f"{last.responded} of {last.sent} answered ({last.rate:.0%})"


def lines(st: Status) -> list[str]:
    """Status as short mrkdwn lines (shared by the slash command and the App Home)."""
    if not st.configured:
        return [
            "No audience yet: medpulse doesn't know whom to ask.",
            "Start with `/pulse audience #channel`.",
        ]
    snap = st.schedule
    if snap is None:  # pragma: no cover - configured implies a schedule
        raise AdminError("the audience has no schedule")
    out = [
        f"*Audience:* #{st.audience_name} · {st.audience_size} doctors"
        + (f" ({st.opted_out} opted out)" if st.opted_out else ""),
        f"*Schedule:* {snap.description}",
        "*State:* ⏸️ paused (`/pulse resume` to restart)" if st.paused else "*State:* ▶️ running",
        f"*Next round:* {snap.next_round_text}",
    ]
    if st.last is None:
        out.append("*Last round:* none yet")
    else:
        when = schedules.local_when(st.last.created_at, st.timezone)
        kind = "sent by hand" if st.last.manual else "scheduled"
        state = "open" if st.last.status == "open" else "closed"
        out.append(f"*Last round:* {when}, {kind}, {state} · {rate_text(st.last)}")
    if not st.leader_channels:
        out.append("*Summaries:* no leadership channel yet (`/pulse leaders #channel`)")
    else:
        out.append(f"*Summaries:* {st.leader_channels} leadership channel(s)")
    return out
