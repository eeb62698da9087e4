"""Every operator error is one line and an exit code (2: bad input; 1: outside their control),
run through the real `medpulse` console script; `--team` must name an installed workspace."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from bot.people.workspaces import ensure_workspace
from storage.models import Participant, Workspace
from tests.conftest import SECRET, TOKEN
from tests.helpers import doctors
from tests.test_cli import MEDPULSE, _env, _run

FIXTURES = Path(__file__).parent / "fixtures"
DEAD_PG = "postgresql+psycopg://nobody@127.0.0.1:9/none?connect_timeout=2"


def one_line(out, code: int, *needles: str) -> str:
    """The run failed with ``code`` and said so in exactly one line, without a traceback."""
    assert "Traceback" not in out.stdout + out.stderr, out.stderr
    lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
    assert out.returncode == code, (out.returncode, out.stdout, out.stderr)
    assert len(lines) == 1, lines
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def _slack_env(fake, db: str) -> dict:
    return {
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": fake.api_url,
        "DATABASE_URL": db,
    }


def _workspaces(db: str) -> list[str]:
    engine = create_engine(db)
    try:
        with engine.connect() as c:
            return sorted(c.scalars(select(Workspace.team_id)))
    finally:
        engine.dispose()


def test_questions_json_into_a_closed_pipe_is_quiet(tmp_path):
    proc = subprocess.Popen(
        [MEDPULSE, "questions", "--json"],
        cwd=tmp_path,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    proc.stdout.close()  # `| head` that has already read what it wanted
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0 and err == b"", err.decode()


def test_questions_check_on_a_binary_file(tmp_path):
    (tmp_path / "x.yaml").write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff\xfe")
    out = _run(["questions", "--check", "x.yaml"], tmp_path)
    assert out.returncode == 2 and "not UTF-8 text" in out.stdout and "Traceback" not in out.stderr


@pytest.mark.parametrize("team", [[], ["--team", "T0001"]])
def test_roster_before_slack_is_connected(tmp_path, team):
    (tmp_path / "r.csv").write_text("slack_id,department,grade\nUDOC0001,ED,FY1\n")
    db = f"sqlite:///{tmp_path / 'r.db'}"
    out = _run(["roster", "import", "r.csv", *team], tmp_path, DATABASE_URL=db)
    one_line(out, 2, "Slack is not connected")
    assert _workspaces(db) == []


def test_roster_that_is_binary_or_missing(tmp_path, fake):
    db = f"sqlite:///{tmp_path / 'r.db'}"
    (tmp_path / "r.csv").write_bytes(b"\x00\x01\x02binary\xff")
    out = _run(["roster", "import", "r.csv"], tmp_path, **_slack_env(fake, db))
    one_line(out, 2, "neither CSV text")
    one_line(_run(["roster", "import", "nope.csv"], tmp_path), 2, "cannot read nope.csv")


def test_roster_cli_imports_the_excel_workbook(tmp_path, fake, db_url):
    doctors(fake, 16)
    env = _slack_env(fake, db_url)
    out = _run(["roster", "import", str(FIXTURES / "roster.xlsx")], tmp_path, **env)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "16 rows matched" in out.stdout and "Imported: 16 doctors in 4 departments" in out.stdout


def test_team_must_name_an_installed_workspace(tmp_path, fake, db_url):
    doctors(fake, 2)
    env = _slack_env(fake, db_url)
    (tmp_path / "r.csv").write_text("slack_id,department,grade\nUDOC0001,ED,FY1\n")
    for args in (
        ["roster", "import", "r.csv", "--team", "T0OOPS"],
        ["export", "--out", "x.csv", "--team", "T0OOPS"],
        ["forget", "UDOC0001", "--team", "T0OOPS"],
        ["questions", "import", str(FIXTURES / "trust-set.yaml"), "--team", "T0OOPS"],
    ):
        one_line(_run(args, tmp_path, **env), 2, "'T0OOPS' is not installed", "T0001")
    assert _workspaces(db_url) == [] and not (tmp_path / "x.csv").exists()
    out = _run(["roster", "import", "r.csv", "--team", "T0001"], tmp_path, **env)
    assert out.returncode == 0 and "Imported: 1 doctors" in out.stdout, out.stderr
    assert _workspaces(db_url) == ["T0001"]


def test_forget_with_no_workspace_says_so(tmp_path):
    db = f"sqlite:///{tmp_path / 'f.db'}"
    line = one_line(_run(["forget", "U0123ABCD"], tmp_path, DATABASE_URL=db), 2)
    assert "several" not in line and "Slack is not connected" in line


def test_without_team_several_workspaces_must_be_named(tmp_path, fake, db_url):
    engine = create_engine(db_url)
    with Session(engine) as s, s.begin():
        for team in ("T0001", "T0002"):
            ensure_workspace(s, team, datetime.now(UTC), "Europe/London")
    engine.dispose()
    out = _run(["export", "--out", "x.csv"], tmp_path, **_slack_env(fake, db_url))
    one_line(out, 2, "several workspaces are installed (T0001, T0002)", "--team")


def test_export_to_a_missing_folder(tmp_path):
    out = _run(["export", "--out", "no/such/x.csv"], tmp_path)
    one_line(out, 2, "does not exist")


def test_migrate_against_unreachable_postgresql_and_a_missing_sqlite_folder(tmp_path):
    one_line(_run(["migrate"], tmp_path, DATABASE_URL=DEAD_PG), 1, "the database did not answer")
    out = _run(["migrate"], tmp_path, DATABASE_URL=f"sqlite:///{tmp_path}/missing/x.db")
    one_line(out, 2, "DATABASE_URL", "does not exist")


@pytest.mark.parametrize(
    "present,missing",
    [
        ({"SLACK_BOT_TOKEN": "xoxb-1"}, "SLACK_SIGNING_SECRET"),
        ({"SLACK_SIGNING_SECRET": "s"}, "SLACK_BOT_TOKEN"),
        ({"SLACK_CLIENT_ID": "1.2"}, "SLACK_CLIENT_SECRET"),
    ],
)
def test_half_a_slack_configuration_names_what_is_missing_and_runs_no_demo(
    tmp_path, present, missing
):
    out = _run(["run"], tmp_path, **present)
    one_line(out, 2, missing, next(iter(present)))
    assert not (tmp_path / "demo-output").exists()


BROKEN = [
    ["run"],
    ["web"],
    ["worker"],
    ["migrate"],
    ["questions", "--check", "bin.dat"],
    ["questions", "import", "bin.dat"],
    ["roster", "import", "bin.dat"],
    ["export", "--out", "missing/x.csv"],
    ["forget", "not-a-user"],
    ["demo", "--doctors", "3"],
    ["teams-package", "--host", "bad host", "--app-id", "x", "--out", "missing/x.zip"],
]


@pytest.mark.parametrize("args", BROKEN, ids=lambda a: " ".join(a))
def test_every_subcommand_with_broken_input_gives_no_traceback(tmp_path, args):
    (tmp_path / "bin.dat").write_bytes(bytes(range(256)))
    out = _run(args, tmp_path, DATABASE_URL=DEAD_PG, SLACK_BOT_TOKEN="xoxb-1")
    text = out.stdout + out.stderr
    assert out.returncode in (1, 2), (out.returncode, text)
    assert "Traceback" not in text and 0 < len(text.strip().splitlines()) <= 3, text


def test_every_subcommand_is_in_the_broken_input_test():
    from server.cli import build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "cmd")
    assert set(sub.choices) == {args[0] for args in BROKEN}


def test_a_schema_alembic_cannot_place_is_one_line(tmp_path):
    # A database whose schema is newer than this code: alembic cannot find the revision.
    db = f"sqlite:///{tmp_path / 'newer.db'}"
    assert _run(["migrate"], tmp_path, DATABASE_URL=db).returncode == 0
    engine = create_engine(db)
    with engine.begin() as c:
        c.exec_driver_sql("UPDATE alembic_version SET version_num = 'ffff'")
        assert c.scalar(select(func.count()).select_from(Participant)) == 0
    engine.dispose()
    out = _run(["migrate"], tmp_path, DATABASE_URL=db)
    one_line(out, 1, "medpulse migrate:", "cannot be migrated", "ffff")


def test_a_roster_of_known_ids_imports_while_slack_is_unreachable(tmp_path, fake, db_url):
    ids = doctors(fake, 3)
    env = _slack_env(fake, db_url)
    (tmp_path / "r.csv").write_text(f"slack_id,department,grade\n{ids[0]},ED,FY1\n")
    assert _run(["roster", "import", "r.csv"], tmp_path, **env).returncode == 0
    env["SLACK_API_URL"] = "http://127.0.0.1:9/api/"
    (tmp_path / "r.csv").write_text(
        f"slack_id,department,grade\n{ids[0]},Surgery,ST3\n{ids[1]},Surgery,ST3\n"
    )
    out = _run(["roster", "import", "r.csv"], tmp_path, **env)
    assert out.returncode == 1 and "Traceback" not in out.stdout + out.stderr
    assert "1 rows matched" in out.stdout and f"line 3: not imported: {ids[1]}" in out.stdout


def test_a_refused_question_import_is_one_line(tmp_path, fake, db_url):
    env = _slack_env(fake, db_url)
    trust_set = str(FIXTURES / "trust-set.yaml")
    out = _run(["questions", "import", trust_set, "--set", "bank"], tmp_path, **env)
    one_line(out, 2, "can't name a question set")


def test_a_mistyped_team_is_named_even_when_slack_is_unreachable(tmp_path, fake, db_url):
    doctors(fake, 1)
    env = _slack_env(fake, db_url)
    (tmp_path / "r.csv").write_text("slack_id,department,grade\nUDOC0000,ED,FY1\n")
    assert _run(["roster", "import", "r.csv"], tmp_path, **env).returncode == 0
    env["SLACK_API_URL"] = "http://127.0.0.1:9/api/"
    out = _run(["export", "--out", "x.csv", "--team", "T0OOPS"], tmp_path, **env)
    one_line(out, 2, "'T0OOPS' is not installed here (installed: T0001)")
