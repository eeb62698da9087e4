"""The `medpulse` console script as an operator meets it: help, config errors, no tokens, migrate,
questions, and `medpulse web` serving health checks and stopping cleanly on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

MEDPULSE = str(Path(sys.executable).parent / "medpulse")


def _env(**extra) -> dict:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "MEDPULSE_", "DATABASE_URL", "PORT"))
    }
    env.update(extra)
    return env


def _run(args, tmp_path, **extra):
    return subprocess.run(
        [MEDPULSE, *args],
        env=_env(**extra),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,  # a hang guard, not a speed claim: the demo's speed is bench/'s business
    )


def test_help_lists_every_command(tmp_path):
    out = _run(["--help"], tmp_path)
    assert out.returncode == 0
    commands = (
        "run",
        "web",
        "worker",
        "migrate",
        "questions",
        "roster",
        "demo",
        "export",
        "forget",
    )
    listed = {line.split()[0] for line in out.stdout.splitlines() if line.startswith("    ")}
    assert set(commands) <= listed, out.stdout


def test_a_malformed_setting_stops_with_one_line_and_no_traceback(tmp_path):
    for name, value in [
        ("MEDPULSE_MIN_GROUP", "2"),
        ("PORT", "abc"),
        ("DATABASE_URL", "mysql://x"),
        ("MEDPULSE_TIMEZONE", "Mars/Base"),
    ]:
        out = _run(["migrate"], tmp_path, **{name: value})
        assert out.returncode == 2, (name, out.stderr)
        lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
        assert len(lines) == 1 and name in lines[0] and "Traceback" not in out.stderr


def test_run_without_tokens_explains_how_to_connect(tmp_path):
    out = _run(["run", "--no-demo"], tmp_path)
    assert out.returncode == 0, out.stderr
    lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
    assert len(lines) == 3, lines
    assert "slack-app-manifest.yml" in out.stderr and "Connect Slack" in out.stderr
    assert not list(tmp_path.iterdir())  # explaining needs no database and runs no demo


def test_migrate_creates_a_fresh_sqlite_database(tmp_path):
    out = _run(["migrate"], tmp_path, DATABASE_URL=f"sqlite:///{tmp_path / 'x.db'}")
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "x.db").exists() and "latest schema" in out.stdout


def test_questions_json_lists_the_bank(tmp_path):
    out = _run(["questions", "--json"], tmp_path)
    assert out.returncode == 0, out.stderr
    items = json.loads(out.stdout)
    assert 35 <= len(items) <= 46
    assert {"id", "text", "scale", "theme", "source"} <= set(items[0])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=1) as r:
            return r.status
    except urllib.error.HTTPError as err:
        return err.code


def test_web_serves_health_checks_and_stops_on_sigterm(tmp_path):
    port = _free_port()
    db = f"sqlite:///{tmp_path / 'web.db'}"
    assert _run(["migrate"], tmp_path, DATABASE_URL=db).returncode == 0
    proc = subprocess.Popen(
        [MEDPULSE, "web"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=_env(
            DATABASE_URL=db, PORT=str(port), SLACK_SIGNING_SECRET="s", SLACK_BOT_TOKEN="xoxb-1"
        ),
    )
    try:
        deadline = time.monotonic() + 30
        status = None
        while status is None and time.monotonic() < deadline and proc.poll() is None:
            try:
                status = _get(f"http://127.0.0.1:{port}/healthz")
            except OSError:
                time.sleep(0.2)
        assert status == 200, proc.poll()
        assert _get(f"http://127.0.0.1:{port}/readyz") == 200  # the database is reachable
        assert _get(f"http://127.0.0.1:{port}/nowhere") == 404
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


def test_demo_runs_in_a_fresh_directory_and_writes_summaries_and_charts(tmp_path):
    out_dir, scratch = tmp_path / "out", tmp_path / "scratch"
    scratch.mkdir()
    out_dir.mkdir()
    (out_dir / ".medpulse-demo").write_text("")  # an earlier run's folder...
    (out_dir / "chart-34-C0LEADERS-medpulse-summary.png").write_bytes(b"old")  # ...and its chart
    args = ["demo", "--doctors", "40", "--rounds", "2", "--out", "out", "--quiet"]
    out = _run(args, tmp_path, TMPDIR=str(scratch))
    assert out.returncode == 0, out.stderr[-2000:]
    files = sorted(p.name for p in out_dir.iterdir())
    assert "chart-34-C0LEADERS-medpulse-summary.png" not in files  # two runs never mix
    assert any(f.startswith("summary-") and f.endswith(".json") for f in files)
    assert any(f.startswith("summary-") and f.endswith(".txt") for f in files)
    charts = [out_dir / f for f in files if f.endswith(".png")]
    assert charts and all(p.read_bytes().startswith(b"\x89PNG") for p in charts)
    text = next(out_dir.glob("summary-*-C0LEADERS.txt")).read_text()
    assert "doctors answered" in text
    index = (out_dir / "index.md").read_text()
    assert "## Open first" in index and "index.md" in out.stderr
    listed = {line.split("`")[1] for line in index.splitlines() if line.startswith("| `")}
    assert listed == set(files) - {"index.md", ".medpulse-demo"}
    assert list(scratch.iterdir()) == []  # the throwaway database is gone


def test_demo_refuses_a_folder_it_did_not_write(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.docx").write_text("precious")
    out = _run(["demo", "--out", "mine"], tmp_path)
    assert out.returncode == 2 and "did not write" in out.stderr, out.stderr
    assert (tmp_path / "mine" / "thesis.docx").read_text() == "precious"


def test_export_command_writes_a_csv(tmp_path):
    from simulator.fake_slack import FakeSlack

    db = f"sqlite:///{tmp_path / 'e.db'}"
    with FakeSlack(bot_token="xoxb-e") as fake:
        env = {"DATABASE_URL": db, "SLACK_BOT_TOKEN": "xoxb-e", "SLACK_API_URL": fake.api_url}
        out = _run(["export", "--out", "x.csv", "--team", "T0001"], tmp_path, **env)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "x.csv").read_text().startswith("period,level,theme,item")


def test_questions_import_asks_which_workspace_when_several_are_installed(tmp_path):
    from datetime import UTC, datetime

    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from bot.people.workspaces import ensure_workspace

    (tmp_path / "mine.yaml").write_text(
        (Path(__file__).parent / "fixtures/trust-set.yaml").read_text()
    )
    db = f"sqlite:///{tmp_path / 'q.db'}"
    assert _run(["migrate"], tmp_path, DATABASE_URL=db).returncode == 0
    engine = create_engine(db)
    with Session(engine) as s, s.begin():
        for team in ("T0001", "T0002"):
            ensure_workspace(s, team, datetime.now(UTC), "Europe/London")
    engine.dispose()
    out = _run(["questions", "import", "mine.yaml"], tmp_path, DATABASE_URL=db)
    assert out.returncode == 2 and "--team" in out.stderr, out.stdout + out.stderr
    assert "Traceback" not in out.stdout + out.stderr
    out = _run(["questions", "import", "mine.yaml", "--team", "T0001"], tmp_path, DATABASE_URL=db)
    assert out.returncode == 0 and "set 'mine' in team T0001: 1 new" in out.stdout, out.stderr
