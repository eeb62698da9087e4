"""Driving the real app as Microsoft Teams: the app (``build_core``/``build_wsgi`` from the
TEAMS_* settings) served over HTTP, signed activities from the fake Bot Connector, and the few
moves every Teams test makes (install in a team, send a round, tap, comment, read the cards).

Shared by tests/test_teams_e2e.py and the ports of the Slack suite's checks
(tests/test_teams_attacks.py, tests/test_teams_delivery_faults.py), so a Teams check reads
like its Slack original.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator
from dataclasses import dataclass, field

from sqlalchemy import func, select

from bot.delivery.outbox import DeliveryWorker
from bot.settings import load_settings
from server.runtime import build_core, build_wsgi
from server.web import HttpServer
from simulator.fake_teams import (
    FakeTeam,
    FakeTeams,
    SentActivity,
    TeamsUser,
    answer_buttons,
    card_actions,
)
from storage.models import Audience, Comment, Delivery, LeaderChannel, Response, Role, Round


@contextlib.contextmanager
def teams_app(db_url: str, clock, *, concurrency: int = 4, **extra) -> Iterator[TeamsRig]:
    """The real app serving Teams at /api/messages, a delivery worker, and the fake."""
    with FakeTeams() as fake:
        settings = load_settings(
            _env_file=None, DATABASE_URL=db_url, MEDPULSE_MIN_GROUP=5, **fake.env(), **extra
        )
        core = build_core(settings, clock=clock)
        gw = core.gateway_for.teams
        gw.client.sleep = lambda seconds: None  # backoff is the connector tests' business
        server = HttpServer(build_wsgi(core), host="127.0.0.1", port=0, threads=4).start()
        worker = DeliveryWorker(core, concurrency=concurrency, backoff=0.0)
        try:
            yield TeamsRig(fake, core, f"{server.url}/api/messages", worker)
        finally:
            worker.shutdown()
            server.stop()
            core.db.dispose()


def drain(worker) -> None:
    for _ in range(50):
        if worker.run_once() == 0:
            return
    raise AssertionError("the outbox never emptied")


def counts(core) -> tuple[int, ...]:
    with core.db.Session() as s:
        return tuple(
            s.scalar(select(func.count()).select_from(m))
            for m in (Round, Delivery, Response, Comment, Role, LeaderChannel, Audience)
        )


def card_of(activity: SentActivity) -> dict:
    return activity.payload["attachments"][0]["content"]


def questions(card: dict) -> list[list[dict]]:
    """The answer buttons of a pulse card, one list per question (keyed ``round:version``)."""
    out: dict[str, list[dict]] = {}
    for b in answer_buttons(card):
        out.setdefault(b["data"]["answer"].rsplit(":", 1)[0], []).append(b)
    return list(out.values())


def card_action_data(card: dict, verb: str) -> dict:
    return next(a["data"] for a in card_actions(card) if a.get("verb") == verb)


def texts(messages) -> list[str]:
    return [m.payload.get("text") or str(m.payload) for m in messages]


@dataclass
class TeamsRig:
    """One tenant's app and fake, with the moves the tests make in it."""

    fake: FakeTeams
    core: object
    url: str
    worker: DeliveryWorker
    admin: TeamsUser | None = None
    team: FakeTeam | None = None
    doctors: list[TeamsUser] = field(default_factory=list)

    @property
    def tenant(self) -> str:
        return self.fake.tenant_id

    def post(self, activity, **kw):
        """A signed activity; no activity of ours may ever get a 500."""
        resp = self.fake.post(self.url, activity, **kw)
        assert resp.status_code < 500, (resp.status_code, resp.text[:300])
        return resp

    def install(
        self, n: int, name: str = "Trust doctors", *, admin_in_team: bool = True
    ) -> list[TeamsUser]:
        """An admin and ``n`` doctors in a team; the app installed there (the team is the
        audience, the installer its admin). ``admin_in_team=False``: the admin installs it
        without being one of the doctors (as the Slack tests' admin is not in the channel)."""
        self.admin = self.fake.add_user("Dr Admin")
        self.doctors = [self.fake.add_user() for _ in range(n)]
        members = [self.admin, *self.doctors] if admin_in_team else self.doctors
        self.team = self.fake.add_team(name, members)
        self.fake.install(self.team)
        assert self.post(self.fake.installed_activity(self.team, by=self.admin)).status_code == 200
        return self.doctors

    def say(self, user: TeamsUser, text: str, team: FakeTeam | None = None) -> str:
        """``text`` typed to the bot in ``team``'s channel (the doctors' team by default);
        every reply posted there, joined."""
        where = team or self.team
        before = len(self.fake.channel_messages(where))
        assert self.post(self.fake.message(user, text, team=where)).status_code == 200
        return "\n".join(texts(self.fake.channel_messages(where)[before:]))

    def send_now(self) -> str:
        reply = self.say(self.admin, "send now")
        assert "Round started" in reply or "already" in reply, reply
        drain(self.worker)
        return reply

    def pulse(self, user: TeamsUser) -> SentActivity:
        """The newest open pulse card in ``user``'s 1:1 (one with answer buttons)."""
        cards = [
            m
            for m in self.fake.messages_to(user)
            if m.payload.get("attachments") and answer_buttons(card_of(m))
        ]
        assert cards, f"no open pulse card for {user.id}"
        return cards[-1]

    def tap(self, user: TeamsUser, button: dict, reply_to: str | None = None):
        resp = self.post(self.fake.card_action(user, "answer", button["data"], reply_to))
        assert resp.status_code == 200
        return resp

    def tap_randomly(self, user: TeamsUser, rng: random.Random) -> list[tuple[str, int, int]]:
        """``user`` taps a random answer to every question: (user, version, value) each."""
        sent = self.pulse(user)
        truth = []
        for buttons in questions(card_of(sent)):
            btn = rng.choice(buttons)
            reply = self.tap(user, btn, sent.id)
            assert "Recorded anonymously" in reply.json()["value"], reply.json()
            _, vid, value = (int(x) for x in btn["data"]["answer"].split(":"))
            truth.append((user.id, vid, value))
        return truth

    def comment(self, user: TeamsUser, text: str):
        pulse = card_action_data(card_of(self.pulse(user)), "comment")["pulse"]
        resp = self.post(self.fake.card_action(user, "comment", {"pulse": pulse, "comment": text}))
        assert resp.status_code == 200
        return resp.json()["value"]

    def import_roster(self, cells: dict[str, tuple[str, str]]):
        """Departments and grades by Teams user ID, through the core's roster import."""
        from bot.people.roster import import_roster

        csv_text = "user_id,department,grade\n" + "\n".join(
            f"{u},{d},{g}" for u, (d, g) in cells.items()
        )
        report = import_roster(self.core, self.tenant, csv_text)
        assert report.imported, report.render()
        return report
