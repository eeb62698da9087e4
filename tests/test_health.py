"""Health that tells the truth, over HTTP against the real app: /readyz checks the schema, a
Slack outage is a 503 with one log line, and signed requests missing fields get 400."""

from __future__ import annotations

import json
import logging
from urllib.parse import urlencode

import pytest
from sqlalchemy import create_engine

from server.runtime import build_core, build_wsgi
from server.web import HttpServer
from simulator.slack_requests import SlackSender
from tests.conftest import ADMIN, SECRET, make_settings
from tests.test_web import get

DEAD_SLACK = "http://127.0.0.1:9/api/"


@pytest.fixture
def serve():
    started = []

    def start(settings):
        core = build_core(settings)
        srv = HttpServer(build_wsgi(core), host="127.0.0.1", port=0, threads=4).start()
        started.append((core, srv))
        return srv

    yield start
    for core, srv in started:
        srv.stop()
        core.db.dispose()


def test_readyz_is_503_on_a_database_that_was_never_migrated(fake, tmp_path, serve):
    srv = serve(make_settings(fake, f"sqlite:///{tmp_path / 'empty.db'}"))
    status, body = get(srv.url + "/readyz")
    assert status == 503 and "never migrated" in body["why"], body
    assert get(srv.url + "/healthz")[0] == 200


def test_readyz_is_503_when_the_schema_is_not_the_latest(fake, db_url, serve):
    srv = serve(make_settings(fake, db_url))
    assert get(srv.url + "/readyz") == (
        200,
        {"ok": True, "database": "reachable", "schema": "latest"},
    )
    engine = create_engine(db_url)
    with engine.begin() as c:
        head = c.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
        c.exec_driver_sql("UPDATE alembic_version SET version_num = '0000'")
    try:
        status, body = get(srv.url + "/readyz")
        assert status == 503 and "medpulse migrate" in body["why"], body
    finally:  # on PostgreSQL the database is shared by the run's tests
        with engine.begin() as c:
            c.exec_driver_sql(f"UPDATE alembic_version SET version_num = '{head}'")
        engine.dispose()


def _records_worth_reading(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_a_slack_outage_is_503_with_one_log_line_and_no_traceback(fake, db_url, serve, caplog):
    caplog.set_level(logging.INFO)
    srv = serve(make_settings(fake, db_url, SLACK_API_URL=DEAD_SLACK))
    sender = SlackSender(srv.url + "/slack/events", SECRET, team_id=fake.team_id)
    for send in (
        lambda: sender.slash("help", ADMIN),  # Bolt's first auth.test
        lambda: sender.slash("audience <#C0DOCTORS|doctors>", ADMIN),
        lambda: sender.block_action(ADMIN, "home_optout", ""),
    ):
        caplog.clear()
        reply = send()
        assert reply.status == 503, (reply.status, reply.body_text)
        worth = _records_worth_reading(caplog)
        assert len(worth) == 1 and "Slack API unreachable" in worth[0].getMessage(), [
            r.getMessage() for r in worth
        ]
        assert not any(r.exc_info for r in caplog.records)


def _signed_without(sender: SlackSender, body: dict, form: bool):
    if form:
        return sender.raw(urlencode(body).encode())
    return sender.raw(json.dumps(body).encode(), content_type="application/json")


@pytest.mark.parametrize(
    "body,form,missing",
    [
        ({"command": "/pulse", "text": "help", "user_id": ADMIN}, True, "team_id"),
        ({"command": "/pulse", "text": "help", "team_id": "T0001"}, True, "user_id"),
        (
            {
                "payload": json.dumps(
                    {"type": "block_actions", "user": {"id": ADMIN}, "actions": []}
                )
            },
            True,
            "team_id",
        ),
        (
            {"payload": json.dumps({"type": "view_submission", "team": {"id": "T0001"}})},
            True,
            "user",
        ),
        ({"type": "event_callback", "event": {"type": "app_home_opened"}}, False, "team_id"),
        ({"type": "event_callback", "team_id": "T0001"}, False, "event"),
    ],
)
def test_signed_requests_missing_fields_get_400(slack, body, form, missing):
    reply = _signed_without(slack, body, form)
    assert reply.status == 400 and reply.json() == {"error": f"no {missing}"}, reply.body_text
    assert slack.slash("help", ADMIN).status == 200  # and the server keeps serving
