"""Shared fixtures: a real database (SQLite or PostgreSQL), the fake Slack, the real app over HTTP.

Which database: ``MEDPULSE_TEST_DB`` is ``sqlite`` (default) or a PostgreSQL server URL such as
``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``; for PostgreSQL a throwaway database is
created for the run and dropped at the end.
"""

from __future__ import annotations

import os
import shutil
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hyp_settings
from sqlalchemy import create_engine, text

from bot.clock import FakeClock
from bot.settings import load_settings
from server.runtime import build_core, build_wsgi
from server.web import HttpServer
from simulator.fake_slack import FakeSlack
from simulator.slack_requests import SlackSender
from storage.db import Database
from storage.migrate import upgrade
from storage.models import Base
from storage.scratch import scratch_database

# Property tests: derandomised so a CI run is reproducible, no wall-clock deadlines (a busy
# 2-core machine must not turn slowness into failures), and tolerant of assume()-heavy tests.
hyp_settings.register_profile(
    "medpulse",
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow],
)
hyp_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "medpulse"))

SECRET = "test-signing-secret"
TOKEN = "xoxb-test"
ADMIN = "UADMIN1"
# Multi-workspace mode encrypts stored tokens; a test key (production keys live in configuration).
TOKEN_KEY = "srJKyWa9EqcEpi3j0IQgZxE9GY7ZzvZChS3i8l1O0-k="
LONDON = ZoneInfo("Europe/London")


def _pg_base() -> str | None:
    url = os.environ.get("MEDPULSE_TEST_DB", "sqlite")
    return None if url == "sqlite" else url


@pytest.fixture(scope="session")
def db_template(tmp_path_factory):
    """A migrated database made once per run; each test gets a fresh copy or a truncated one."""
    base = _pg_base()
    if base is None:
        path = tmp_path_factory.mktemp("db") / "template.db"
        upgrade(f"sqlite:///{path}")
        yield ("sqlite", str(path))
        return
    url, drop = scratch_database(base, "medpulse_test")
    upgrade(url)
    yield ("postgresql", url)
    drop()


@pytest.fixture
def db_url(db_template, tmp_path):
    kind, where = db_template
    if kind == "sqlite":
        path = tmp_path / "medpulse.db"
        shutil.copy(where, path)
        return f"sqlite:///{path}"
    engine = create_engine(where)
    with engine.begin() as c:
        names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        c.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return where


@pytest.fixture
def fake():
    with FakeSlack(bot_token=TOKEN) as f:
        f.add_user(ADMIN, name="admin.one", real_name="Ada Admin")
        yield f


@pytest.fixture
def clock():
    # A Tuesday in November (GMT), 10:00 local.
    return FakeClock(datetime(2026, 11, 24, 10, 0, tzinfo=LONDON))


def make_settings(fake: FakeSlack, db_url: str, **extra):
    values = {
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": fake.api_url,
        "DATABASE_URL": db_url,
        "MEDPULSE_ADMINS": ADMIN,
        "MEDPULSE_MIN_GROUP": 5,
    }
    values.update(extra)
    return load_settings(_env_file=None, **values)


@pytest.fixture
def settings(fake, db_url):
    return make_settings(fake, db_url)


@pytest.fixture
def core(settings, clock):
    c = build_core(settings, clock=clock)
    yield c
    c.db.dispose()


@pytest.fixture
def server(core):
    srv = HttpServer(build_wsgi(core), host="127.0.0.1", port=0, threads=8).start()
    yield srv
    srv.stop()


@pytest.fixture
def slack(server, fake):
    return SlackSender(
        server.url + "/slack/events",
        SECRET,
        team_id=fake.team_id,
        response_url_base=fake.response_url_base,
    )


@pytest.fixture
def worker(core):
    from bot.delivery.outbox import DeliveryWorker

    w = DeliveryWorker(core, concurrency=8, backoff=0.01)
    yield w
    w.shutdown()


@pytest.fixture
def database(db_url):
    db = Database.connect(db_url)
    yield db
    db.dispose()


from tests.multi import grid, region  # noqa: E402, F401 - trusts in multi-workspace mode
