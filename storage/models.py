"""SQLAlchemy 2 models for the whole medpulse domain.

The anonymity model (design.md) shapes this file more than anything else:

* Identity lives only in ``participants`` and ``deliveries``: who was asked and what was sent to
  them. No answer value, no comment text and no "answered" flag is ever stored there, and
  recording an answer never writes to them (so no transaction ties the two sides together).
* Answers live in ``responses`` and ``comments``: round, question version, value or text, and a
  coarse segment (department, grade group) that is recorded only where enough people in that
  segment were asked the same item. Their primary key is a random UUID (no sequence that could
  be lined up with delivery order), they carry no timestamp at all, and the only link to a person
  is ``link_hash``: an HMAC whose key is not in the database, nulled when the round closes.
* Admin actions are deliberately not anonymous: they go to ``audit_log``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from storage.ids import (
    CONVERSATION_ID_LEN,
    MESSAGE_ID_LEN,
    PLATFORM_LEN,
    TENANT_ID_LEN,
    USER_ID_LEN,
)

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Tables our migrations create whose ``Table`` objects belong to a platform adapter (slack_sdk's
# installation and OAuth state stores: ``integrations.slack.oauth_store``). Storage keeps their
# schema in its migration history without importing the adapter; the adapter registers them on
# a metadata where it needs them.
ADAPTER_TABLES = frozenset({"slack_installations", "slack_bots", "slack_oauth_states"})


def random_id() -> str:
    """Random, unordered key for anonymous rows (insertion order must not be recoverable)."""
    return uuid.uuid4().hex


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes in and out, on every backend.

    SQLite hands back naive datetimes even for ``timezone=True`` columns; normalising here keeps
    every comparison in the code between aware UTC values, with no helper sprinkled around.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: medpulse stores aware UTC times only")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


UTC_TS = UTCDateTime()


class Workspace(Base):
    """One installation (one trust) on one chat platform. Every other table hangs off this key.

    ``team_id`` is the platform's tenant: a Slack workspace ID or a Teams tenant ID.
    """

    __tablename__ = "workspaces"
    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(
        String(PLATFORM_LEN), default="slack", server_default="slack"
    )
    team_id: Mapped[str] = mapped_column(String(TENANT_ID_LEN), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/London")
    created_at: Mapped[datetime] = mapped_column(UTC_TS)
    # Enterprise Grid: the organisation an org-wide install belongs to (its token is looked up
    # by this); the workspace is still its own island of data.
    enterprise_id: Mapped[str | None] = mapped_column(String(TENANT_ID_LEN))
    # Set by app_uninstalled / tokens_revoked: no rounds, no posts; identity rows are removed
    # once the grace period (MEDPULSE_UNINSTALL_GRACE_DAYS) has passed without a reinstall.
    uninstalled_at: Mapped[datetime | None] = mapped_column(UTC_TS)


class Role(Base):
    """Admins and leaders. Identities here are not anonymous, by design."""

    __tablename__ = "roles"
    __table_args__ = (UniqueConstraint("workspace_id", "user_id", "role"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(String(USER_ID_LEN))
    role: Mapped[str] = mapped_column(String(16))  # admin | leader
    granted_by: Mapped[str | None] = mapped_column(String(USER_ID_LEN))
    created_at: Mapped[datetime] = mapped_column(UTC_TS)


class AuditEntry(Base):
    """Every admin change: who, what, old -> new, when."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_workspace_at", "workspace_id", "at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    actor: Mapped[str] = mapped_column(String(USER_ID_LEN))
    action: Mapped[str] = mapped_column(String(64))
    old: Mapped[str | None] = mapped_column(Text)
    new: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTC_TS)


class Department(Base):
    """Departments as the roster defines them; doctors may pick one in the App Home."""

    __tablename__ = "departments"
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))


class Audience(Base):
    """A group of doctors, defined by the members of one channel (a Slack channel, a Teams team)."""

    __tablename__ = "audiences"
    __table_args__ = (UniqueConstraint("workspace_id", "channel_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    channel_id: Mapped[str] = mapped_column(String(CONVERSATION_ID_LEN))
    name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTC_TS)
    synced_at: Mapped[datetime | None] = mapped_column(UTC_TS)
    # Who was asked at the latest round, as a fingerprint of (person, department, grade): a
    # round whose fingerprint differs publishes nothing finer than the whole (bot.rounds.membership).
    members_hash: Mapped[str | None] = mapped_column(String(64))
    members: Mapped[int | None] = mapped_column(Integer)
    changed_at: Mapped[datetime | None] = mapped_column(UTC_TS)
    schedule: Mapped[Schedule | None] = relationship(back_populates="audience", uselist=False)


class Schedule(Base):
    """The truth for when rounds happen; the scheduler is rebuilt from these rows."""

    __tablename__ = "schedules"
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    audience_id: Mapped[int] = mapped_column(
        ForeignKey("audiences.id", ondelete="CASCADE"), unique=True
    )
    cadence: Mapped[str] = mapped_column(String(16), default="fortnightly")
    weekday: Mapped[int] = mapped_column(Integer, default=1)  # Monday=0
    local_time: Mapped[str] = mapped_column(String(5), default="10:00")
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/London")
    anchor: Mapped[date] = mapped_column(Date)  # fortnightly parity / monthly reference
    questions_per_pulse: Mapped[int] = mapped_column(Integer, default=2)
    reminder_after_hours: Mapped[int] = mapped_column(Integer, default=24)
    close_after_days: Mapped[int] = mapped_column(Integer, default=5)
    out_of_hours: Mapped[bool] = mapped_column(Boolean, default=False)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    summary_weekday: Mapped[int] = mapped_column(Integer, default=0)
    summary_time: Mapped[str] = mapped_column(String(5), default="08:00")
    updated_at: Mapped[datetime] = mapped_column(UTC_TS)
    audience: Mapped[Audience] = relationship(back_populates="schedule")


class LeaderChannel(Base):
    """Where summaries go; ``department_id`` set means that department's own view."""

    __tablename__ = "leader_channels"
    __table_args__ = (UniqueConstraint("workspace_id", "channel_id", "department_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    channel_id: Mapped[str] = mapped_column(String(CONVERSATION_ID_LEN))
    department_id: Mapped[int | None] = mapped_column(
        ForeignKey("departments.id", ondelete="CASCADE")
    )


class Participant(Base):
    """A doctor who may be asked. Identity side of the model: never holds an answer."""

    __tablename__ = "participants"
    __table_args__ = (UniqueConstraint("workspace_id", "user_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(String(USER_ID_LEN))
    audience_id: Mapped[int | None] = mapped_column(ForeignKey("audiences.id", ondelete="SET NULL"))
    department_id: Mapped[int | None] = mapped_column(
        ForeignKey("departments.id", ondelete="SET NULL")
    )
    grade: Mapped[str | None] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    opted_out: Mapped[bool] = mapped_column(Boolean, default=False)
    preferred_window: Mapped[str | None] = mapped_column(String(16))
    undeliverable: Mapped[str | None] = mapped_column(String(64))
    # The person's direct conversation with the bot, once known.
    conversation_id: Mapped[str | None] = mapped_column(String(CONVERSATION_ID_LEN))
    # The newest "you said, we did" action already shown to this person (identity side).
    last_action_id: Mapped[int | None] = mapped_column(Integer)
    # Rotation state: the cycle began at ``cycle_start``; ``cycle_carry`` holds items asked in the
    # round that started it which already count towards the new cycle.
    cycle_start: Mapped[datetime | None] = mapped_column(UTC_TS)
    cycle_carry: Mapped[list[str] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTC_TS)


class QuestionSet(Base):
    """A set of items: the shipped bank, the workspace's custom items, or an imported set."""

    __tablename__ = "question_sets"
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))  # bank | custom | import
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)


class SetSwitch(Base):
    """A set switched on or off for one audience (overrides ``QuestionSet.enabled``)."""

    __tablename__ = "set_switches"
    __table_args__ = (UniqueConstraint("set_id", "audience_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    set_id: Mapped[int] = mapped_column(ForeignKey("question_sets.id", ondelete="CASCADE"))
    audience_id: Mapped[int] = mapped_column(ForeignKey("audiences.id", ondelete="CASCADE"))
    enabled: Mapped[bool] = mapped_column(Boolean)


class QuestionItem(Base):
    """A stable question identity in one workspace; its wording lives in versions."""

    __tablename__ = "question_items"
    __table_args__ = (UniqueConstraint("workspace_id", "key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    set_id: Mapped[int] = mapped_column(ForeignKey("question_sets.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(80))
    scale: Mapped[str] = mapped_column(String(16))
    theme: Mapped[str] = mapped_column(String(40))
    source: Mapped[str] = mapped_column(String(60))
    audience: Mapped[list[str]] = mapped_column(JSON)
    reverse: Mapped[bool] = mapped_column(Boolean, default=False)
    headline: Mapped[bool] = mapped_column(Boolean, default=False)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    current_version: Mapped[int] = mapped_column(Integer, default=1)


class QuestionVersion(Base):
    """One wording of an item. Answers point here, so rewordings never trend together."""

    __tablename__ = "question_versions"
    __table_args__ = (UniqueConstraint("item_id", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("question_items.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(String(300))
    help: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTC_TS)


class Round(Base):
    """One pulse to one audience. ``slot_key`` makes a second firing of a slot a no-op."""

    __tablename__ = "rounds"
    __table_args__ = (UniqueConstraint("audience_id", "slot_key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    audience_id: Mapped[int] = mapped_column(ForeignKey("audiences.id", ondelete="CASCADE"))
    slot_key: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | closed
    manual: Mapped[bool] = mapped_column(Boolean, default=False)
    seed: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTC_TS)
    period_start: Mapped[date] = mapped_column(Date)
    closes_at: Mapped[datetime] = mapped_column(UTC_TS)
    reminder_after_hours: Mapped[int] = mapped_column(Integer, default=24)
    out_of_hours: Mapped[bool] = mapped_column(Boolean, default=False)
    closed_at: Mapped[datetime | None] = mapped_column(UTC_TS)
    invited: Mapped[int] = mapped_column(Integer, default=0)
    # Its audience (people, departments, grades) differs from the previous round's: nothing
    # finer than the whole audience is stored or published for it (bot.rounds.membership).
    audience_changed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Who the round asked, with departments and grades, as one hash (bot.rounds.membership): close
    # compares it again, so people moved while the round is open count as an audience change.
    members_hash: Mapped[str | None] = mapped_column(String(64))


class RoundItemSegment(Base):
    """How many people in a segment were asked an item in a round.

    Written when the round is created; an answer copies its segment only where this count
    reaches the minimum group size, so a stored segment never narrows to a few people.
    """

    __tablename__ = "round_item_segments"
    __table_args__ = (UniqueConstraint("round_id", "version_id", "dimension", "segment"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id", ondelete="CASCADE"))
    version_id: Mapped[int] = mapped_column(ForeignKey("question_versions.id", ondelete="CASCADE"))
    dimension: Mapped[str] = mapped_column(String(16))  # all | department | grade
    segment: Mapped[str] = mapped_column(String(100))
    asked: Mapped[int] = mapped_column(Integer)


class Delivery(Base):
    """The outbox: one row per participant per round, written before anything is sent."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("round_id", "participant_id"),
        Index("ix_deliveries_due", "status", "not_before"),
        Index("ix_deliveries_reminder_due", "reminder", "reminder_due"),
        Index("ix_deliveries_tidy_due", "tidy", "tidy_due"),
        # Claims go workspace by workspace (fair between trusts): each finds its own due rows
        # without reading past another trust's backlog.
        Index("ix_deliveries_ws_due", "workspace_id", "status", "not_before"),
        Index("ix_deliveries_ws_reminder", "workspace_id", "reminder", "reminder_due"),
        Index("ix_deliveries_ws_tidy", "workspace_id", "tidy", "tidy_due"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id", ondelete="CASCADE"))
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id", ondelete="CASCADE"))
    item_keys: Mapped[list[str]] = mapped_column(JSON)
    version_ids: Mapped[list[int]] = mapped_column(JSON)
    # pending | sending | sent | undeliverable | failed | skipped
    status: Mapped[str] = mapped_column(String(16), default="pending")
    not_before: Mapped[datetime] = mapped_column(UTC_TS)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_at: Mapped[datetime | None] = mapped_column(UTC_TS)
    # Where the DM went and which message it is (a ``MessageRef``), to redraw it at close.
    conversation_id: Mapped[str | None] = mapped_column(String(CONVERSATION_ID_LEN))
    message_id: Mapped[str | None] = mapped_column(String(MESSAGE_ID_LEN))
    error: Mapped[str | None] = mapped_column(String(64))
    # An earlier attempt may have reached the platform (timeout, 5xx): check before sending again.
    uncertain: Mapped[bool] = mapped_column(Boolean, default=False)
    sent_at: Mapped[datetime | None] = mapped_column(UTC_TS)
    # none | scheduled | pending | sending | sent | skipped
    reminder: Mapped[str] = mapped_column(String(16), default="none")
    reminder_due: Mapped[datetime | None] = mapped_column(UTC_TS)
    # Needed to delete the reminder when the round closes; cleared by that tidy-up.
    reminder_message_id: Mapped[str | None] = mapped_column(String(MESSAGE_ID_LEN))
    # The tidy-up at close (bot.rounds.closing): none | pending | sending | done | failed. Every DM of
    # a closed round is redrawn to the same closed message and its reminder deleted.
    tidy: Mapped[str] = mapped_column(String(16), default="none")
    tidy_due: Mapped[datetime | None] = mapped_column(UTC_TS)


class Response(Base):
    """One anonymous answer. No participant, no platform user ID, no time, no sequence."""

    __tablename__ = "responses"
    __table_args__ = (
        UniqueConstraint("round_id", "version_id", "link_hash"),
        Index("ix_responses_round_version", "round_id", "version_id"),
    )
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=random_id)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id", ondelete="CASCADE"))
    version_id: Mapped[int] = mapped_column(ForeignKey("question_versions.id", ondelete="CASCADE"))
    value: Mapped[int] = mapped_column(Integer)
    department_id: Mapped[int | None] = mapped_column(
        ForeignKey("departments.id", ondelete="SET NULL")
    )
    grade: Mapped[str | None] = mapped_column(String(16))
    link_hash: Mapped[str | None] = mapped_column(String(64))


class Comment(Base):
    """One anonymous free-text comment, under the same rules as ``Response``."""

    __tablename__ = "comments"
    __table_args__ = (UniqueConstraint("round_id", "link_hash"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=random_id)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id", ondelete="CASCADE"))
    theme: Mapped[str | None] = mapped_column(String(40))
    text: Mapped[str] = mapped_column(Text)
    department_id: Mapped[int | None] = mapped_column(
        ForeignKey("departments.id", ondelete="SET NULL")
    )
    grade: Mapped[str | None] = mapped_column(String(16))
    link_hash: Mapped[str | None] = mapped_column(String(64))


class RoundParticipation(Base):
    """Invited and responded counts per segment, frozen at close when answer flags are erased."""

    __tablename__ = "round_participation"
    __table_args__ = (UniqueConstraint("round_id", "department_id", "grade"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id", ondelete="CASCADE"))
    department_id: Mapped[int | None] = mapped_column(
        ForeignKey("departments.id", ondelete="SET NULL")
    )
    grade: Mapped[str | None] = mapped_column(String(16))
    invited: Mapped[int] = mapped_column(Integer)
    responded: Mapped[int] = mapped_column(Integer)


class SummaryPost(Base):
    """Summaries already posted, so a weekly job that fires twice posts once."""

    __tablename__ = "summary_posts"
    __table_args__ = (UniqueConstraint("workspace_id", "channel_id", "slot_key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    channel_id: Mapped[str] = mapped_column(String(CONVERSATION_ID_LEN))
    slot_key: Mapped[str] = mapped_column(String(64))
    message_id: Mapped[str | None] = mapped_column(String(MESSAGE_ID_LEN))
    posted_at: Mapped[datetime] = mapped_column(UTC_TS)


class Assessment(Base):
    """One leader's self-assessment against the 14 checklist questions (not anonymous)."""

    __tablename__ = "assessments"
    __table_args__ = (Index("ix_assessments_workspace_taken", "workspace_id", "taken_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    leader: Mapped[str] = mapped_column(String(USER_ID_LEN))
    cycle: Mapped[str] = mapped_column(String(16))  # e.g. 2026-Q4: re-run each quarter
    taken_at: Mapped[datetime] = mapped_column(UTC_TS)


class AssessmentRating(Base):
    __tablename__ = "assessment_ratings"
    __table_args__ = (UniqueConstraint("assessment_id", "ref"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    assessment_id: Mapped[int] = mapped_column(ForeignKey("assessments.id", ondelete="CASCADE"))
    ref: Mapped[str] = mapped_column(String(40))  # checklist:organisations:3
    rating: Mapped[int] = mapped_column(Integer)  # 1 not in place .. 5 embedded
    note: Mapped[str | None] = mapped_column(Text)


class LeaderAction(Base):
    """ "You said, we did": an action leaders took, shown once to the doctors it concerns."""

    __tablename__ = "leader_actions"
    __table_args__ = (Index("ix_leader_actions_workspace_created", "workspace_id", "created_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    created_by: Mapped[str] = mapped_column(String(USER_ID_LEN))
    created_at: Mapped[datetime] = mapped_column(UTC_TS)
    theme: Mapped[str | None] = mapped_column(String(40))
    department_id: Mapped[int | None] = mapped_column(
        ForeignKey("departments.id", ondelete="SET NULL")
    )
    grade: Mapped[str | None] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(String(300))


class RegionMember(Base):
    """A trust's membership of the region (issue 17): one row per opt-in, closed by its opt-out.

    Why rows rather than a flag: opting in is revocable, and the history (who was in the
    region when a comparison was posted) stays answerable; the audit log says who did it."""

    __tablename__ = "region_members"
    __table_args__ = (Index("ix_region_members_workspace", "workspace_id", "opted_in_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    opted_in_at: Mapped[datetime] = mapped_column(UTC_TS)
    opted_out_at: Mapped[datetime | None] = mapped_column(UTC_TS)


class SpecialtyMap(Base):
    """A trust's own mapping of one department onto the shared specialty list, overriding the
    list's aliases (``bot.insights.specialties``); ``specialty`` None: never compared."""

    __tablename__ = "specialty_maps"
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    department_id: Mapped[int] = mapped_column(
        ForeignKey("departments.id", ondelete="CASCADE"), unique=True
    )
    specialty: Mapped[str | None] = mapped_column(String(100))
    set_at: Mapped[datetime] = mapped_column(UTC_TS)


class RegionChannel(Base):
    """The regional leaders' channel: one per deployment, in the workspace of the (opted-in)
    trust whose admin set it, since a channel lives in one workspace and is posted to with
    that workspace's token (``bot.admin.region``)."""

    __tablename__ = "region_channel"
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), unique=True
    )
    channel_id: Mapped[str] = mapped_column(String(CONVERSATION_ID_LEN))
    set_at: Mapped[datetime] = mapped_column(UTC_TS)


class RegionFigure(Base):
    """A specialty figure the regional comparison published, with the trust department figures
    it summed (``cells``, JSON: ``[[workspace_id, department, period, invited, responded], …]``),
    so a later comparison can check it adds nothing that, set against every earlier one, gives
    away one trust's own figures (``bot.insights.region_differencing``). Those figures were
    already published inside their trust, so nothing here is about a person."""

    __tablename__ = "region_figures"
    __table_args__ = (Index("ix_region_figures_specialty", "specialty"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    specialty: Mapped[str] = mapped_column(String(200))
    cells: Mapped[str] = mapped_column(Text)
    posted_at: Mapped[datetime] = mapped_column(UTC_TS)


class ChatRoute(Base):
    """Where a chat platform reaches someone or somewhere, for platforms whose API needs more
    than an ID to send (Teams: a conversation ID and the regional service URL it lives at).

    ``kind`` is ``dm`` (``key`` a person's platform user ID, ``conversation_id`` their 1:1 with
    the bot) or ``team`` (``key`` a team the app is installed in; ``name`` its name). Identity
    side: deleted with the workspace's other identity rows, never joined to an answer.
    """

    __tablename__ = "chat_routes"
    __table_args__ = (UniqueConstraint("workspace_id", "kind", "key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # dm | team
    # Widths as bot.chat.ids (storage may not import the core): a user ID 255, a conversation 512.
    key: Mapped[str] = mapped_column(String(512))
    conversation_id: Mapped[str | None] = mapped_column(String(512))
    service_url: Mapped[str] = mapped_column(String(512))
    name: Mapped[str | None] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(UTC_TS)


class SentMessage(Base):
    """A platform send made at most once, for platforms that cannot read a sent message back.

    Written as ``sending`` before the call and ``sent`` (with the message's reference) after;
    a send whose outcome is unknown stays ``uncertain`` (or ``sending`` if the process died) and
    is never made again under the same tag (integrations.msteams.gateway). The tag names an
    outbox job (``pulse:<delivery id>``), so this is identity side like ``deliveries``; rows go
    when their workspace's identities are purged or when retention removes the delivery.
    """

    __tablename__ = "sent_messages"
    __table_args__ = (UniqueConstraint("workspace_id", "tag"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    tag: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))  # sending | sent | uncertain
    conversation_id: Mapped[str | None] = mapped_column(String(512))
    message_id: Mapped[str | None] = mapped_column(String(255))
    at: Mapped[datetime] = mapped_column(UTC_TS)
