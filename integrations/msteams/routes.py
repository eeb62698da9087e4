"""What the Teams adapter keeps in the database: routes to people and teams, and its send ledger.

Teams routes every call by a *service URL* (a regional endpoint that can change) and sends a
direct message into a *conversation* the bot must first create; neither can be derived from a
user ID, so both are stored per person (``chat_routes`` kind ``dm``) and per team the app is
installed in (kind ``team``, with the service URL and name the install event carried).

The ledger (``sent_messages``) is how a send is made at most once without a way to read a sent
message back (``gateway.TeamsGateway.send_dm``): a tag is claimed as ``sending`` in its own
transaction before the call, then marked ``sent`` with the message's ID, released when Teams
certainly did not post it, and left ``uncertain`` otherwise.

Everything here is identity side (it names people's Teams accounts); none of it is ever joined
to an answer or a comment.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from bot.clock import Clock
from storage.db import Database
from storage.models import ChatRoute, Delivery, Round, SentMessage, Workspace

DM, TEAM = "dm", "team"
SWEEP_EVERY = 600.0  # seconds between ledger sweeps before sends (``Routes.sweep``)


@dataclass(frozen=True)
class Route:
    service_url: str
    conversation_id: str | None
    name: str | None = None


@dataclass(frozen=True)
class Ledger:
    """An earlier send under a tag: ``state`` sending | sent | uncertain."""

    state: str
    conversation_id: str | None
    message_id: str | None


class Routes:
    """The routes and ledger of one tenant's workspace."""

    def __init__(self, db: Database, clock: Clock, tenant_id: str) -> None:
        self.db, self.clock, self.tenant_id = db, clock, tenant_id
        self._workspace_id: int | None = None
        self._swept = None  # when the ledger was last swept (``sweep``)

    def workspace_id(self) -> int:
        if self._workspace_id is None:
            with self.db.Session() as s:
                ws = s.scalar(select(Workspace.id).where(Workspace.team_id == self.tenant_id))
            if ws is None:
                raise LookupError(f"no workspace for Teams tenant {self.tenant_id}")
            self._workspace_id = ws
        return self._workspace_id

    # ------------------------------------------------------------ routes

    def get(self, kind: str, key: str) -> Route | None:
        with self.db.Session() as s:
            row = s.scalar(
                select(ChatRoute).where(
                    ChatRoute.workspace_id == self.workspace_id(),
                    ChatRoute.kind == kind,
                    ChatRoute.key == key,
                )
            )
            return None if row is None else Route(row.service_url, row.conversation_id, row.name)

    def save(
        self,
        kind: str,
        key: str,
        service_url: str,
        conversation_id: str | None = None,
        name: str | None = None,
    ) -> None:
        """Insert or refresh a route (the newest service URL an activity shows wins)."""
        ws, now = self.workspace_id(), self.clock.now()
        for _ in range(2):  # two first activities at once: the loser updates the winner's row
            try:
                with self.db.Session() as s, s.begin():
                    row = s.scalar(
                        select(ChatRoute).where(
                            ChatRoute.workspace_id == ws,
                            ChatRoute.kind == kind,
                            ChatRoute.key == key,
                        )
                    )
                    if row is None:
                        row = ChatRoute(workspace_id=ws, kind=kind, key=key)
                        s.add(row)
                    row.service_url, row.updated_at = service_url, now
                    if conversation_id is not None:
                        row.conversation_id = conversation_id
                    if name is not None:
                        row.name = name
                return
            except IntegrityError:
                continue

    def forget(self, kind: str, key: str) -> None:
        with self.db.Session() as s, s.begin():
            s.execute(
                delete(ChatRoute).where(
                    ChatRoute.workspace_id == self.workspace_id(),
                    ChatRoute.kind == kind,
                    ChatRoute.key == key,
                )
            )

    def service_url_of(self, conversation_id: str) -> str | None:
        """The service URL of a conversation we know (a person's 1:1, or a team's channel)."""
        with self.db.Session() as s:
            return s.scalar(
                select(ChatRoute.service_url)
                .where(
                    ChatRoute.workspace_id == self.workspace_id(),
                    (ChatRoute.conversation_id == conversation_id)
                    | ((ChatRoute.kind == TEAM) & (ChatRoute.key == conversation_id)),
                )
                .limit(1)
            )

    def any_service_url(self) -> str | None:
        """The tenant's service URL as the newest team route has it (for a first 1:1)."""
        with self.db.Session() as s:
            return s.scalar(
                select(ChatRoute.service_url)
                .where(ChatRoute.workspace_id == self.workspace_id(), ChatRoute.kind == TEAM)
                .order_by(ChatRoute.updated_at.desc())
                .limit(1)
            )

    # ------------------------------------------------------------ the send ledger

    def claim(self, tag: str) -> Ledger | None:
        """Claim ``tag`` for a send (None), or what an earlier send under it left."""
        ws = self.workspace_id()
        try:
            with self.db.Session() as s, s.begin():
                s.add(SentMessage(workspace_id=ws, tag=tag, state="sending", at=self.clock.now()))
            return None
        except IntegrityError:
            pass
        with self.db.Session() as s:
            row = s.scalar(
                select(SentMessage).where(SentMessage.workspace_id == ws, SentMessage.tag == tag)
            )
            if row is None:  # released between our insert and this read: try once more
                return self.claim(tag)
            return Ledger(row.state, row.conversation_id, row.message_id)

    def settle(
        self,
        tag: str,
        state: str,
        conversation_id: str | None = None,
        message_id: str | None = None,
    ) -> None:
        with self.db.Session() as s, s.begin():
            row = s.scalar(
                select(SentMessage).where(
                    SentMessage.workspace_id == self.workspace_id(), SentMessage.tag == tag
                )
            )
            if row is not None:
                row.state, row.conversation_id, row.message_id = state, conversation_id, message_id
                row.at = self.clock.now()

    def release(self, tag: str) -> None:
        """Teams certainly did not post it: the tag may be sent again."""
        with self.db.Session() as s, s.begin():
            s.execute(
                delete(SentMessage).where(
                    SentMessage.workspace_id == self.workspace_id(), SentMessage.tag == tag
                )
            )

    def forget_sends(self, ref) -> None:
        """A message we posted is closed or deleted: its ledger row goes, and so does every row
        whose outbox row is final (``sweep``)."""
        ws = self.workspace_id()
        with self.db.Session() as s, s.begin():
            s.execute(
                delete(SentMessage).where(
                    SentMessage.workspace_id == ws,
                    SentMessage.conversation_id == ref.conversation,
                    SentMessage.message_id == ref.message,
                )
            )
            _sweep(s, ws)
        self._swept = self.clock.now()

    def sweep(self, every_seconds: float = SWEEP_EVERY) -> None:
        """Delete the ledger rows of outbox rows that are final (their round closed, or the
        person forgotten): nothing can send under their tags again, and a row kept would say
        whose send it was. Run after every close (``forget_sends``) and, at most every
        ``every_seconds``, before a send: a round none of whose cards was ever closed (every
        send uncertain, say) would otherwise keep its rows until an uninstall."""
        now = self.clock.now()
        if self._swept is not None and (now - self._swept).total_seconds() < every_seconds:
            return
        with self.db.Session() as s, s.begin():
            _sweep(s, self.workspace_id(), missing_is_final=False)
        self._swept = now

    def keys(self, kind: str) -> list[str]:
        with self.db.Session() as s:
            return list(
                s.scalars(
                    select(ChatRoute.key).where(
                        ChatRoute.workspace_id == self.workspace_id(), ChatRoute.kind == kind
                    )
                )
            )

    def sent(self, tag: str) -> Ledger | None:
        with self.db.Session() as s:
            row = s.scalar(
                select(SentMessage).where(
                    SentMessage.workspace_id == self.workspace_id(), SentMessage.tag == tag
                )
            )
            return None if row is None else Ledger(row.state, row.conversation_id, row.message_id)


def _sweep(s, ws: int, missing_is_final: bool = True) -> None:
    """In session ``s``: delete workspace ``ws``'s ledger rows whose outbox row is final: its
    round closed, or (``missing_is_final``, after a close or a forget) the row gone with the
    person. The sweep before sends leaves rows without an outbox row to ``forget``."""
    # Rows another sweep has locked are its to delete (SKIP LOCKED, in id order): two workers
    # closing cards at once on PostgreSQL would otherwise each wait for the other's rows.
    rows = s.execute(
        select(SentMessage.id, SentMessage.tag)
        .where(SentMessage.workspace_id == ws)
        .order_by(SentMessage.id)
        .with_for_update(skip_locked=True)
    ).all()
    ids = {row_id: _delivery_of(tag) for row_id, tag in rows}
    named = set(ids.values()) - {None}
    if not named:
        return
    state = dict(
        s.execute(
            select(Delivery.id, Round.status)
            .join(Round, Round.id == Delivery.round_id)
            .where(Delivery.id.in_(named))
        ).all()
    )
    done = [
        row_id
        for row_id, d in ids.items()
        if d is not None
        and (state.get(d) not in (None, "open") or (missing_is_final and d not in state))
    ]
    if done:
        s.execute(delete(SentMessage).where(SentMessage.id.in_(done)))


def _delivery_of(tag: str) -> int | None:
    """The outbox row a tag names (``pulse:<id>``, ``reminder:<id>``), if it names one."""
    _, _, number = tag.partition(":")
    return int(number) if number.isdigit() else None
