"""The `medpulse` command line: run, web, worker, migrate, questions, roster, demo, export."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from bot.operator_errors import OperatorError, check_database_url, debug, describe
from bot.settings import (
    Settings,
    SettingsError,
    load_settings,
    slack_settings_problem,
    teams_settings_problem,
)

NO_TOKENS = """\
medpulse is not connected to Slack yet (no SLACK_BOT_TOKEN / SLACK_SIGNING_SECRET set).
To connect: create an app at https://api.slack.com/apps -> "From an app manifest", paste
slack-app-manifest.yml, install it, then put its tokens in .env (see README, "Connect Slack").
"""


def _settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        raise OperatorError(f"configuration error: {exc}") from None


def _migrate(settings: Settings) -> None:
    from storage.migrate import upgrade

    check_database_url(settings.database_url)
    upgrade(settings.database_url)


def _core(settings: Settings):
    """A migrated database and the core over it, for the one-shot commands."""
    from server.runtime import build_core

    _migrate(settings)
    return build_core(settings)


def _require_slack(settings: Settings, listener: bool = True) -> None:
    """Half a Slack configuration is a mistake to name, never a reason to run the demo. With
    Teams configured and no Slack setting at all, Slack is simply not served."""
    problem = teams_settings_problem(settings)
    if problem:
        raise OperatorError(problem)
    if settings.has_teams and not settings.any_slack:
        return
    problem = slack_settings_problem(settings, listener)
    if problem:
        raise OperatorError(problem)


def _require_schema(settings: Settings) -> None:
    """A process that does not migrate must not start on a database it cannot use."""
    from sqlalchemy import create_engine

    from bot.operator_errors import Unavailable
    from storage.migrate import schema_problem

    check_database_url(settings.database_url)
    engine = create_engine(settings.database_url)
    try:
        problem = schema_problem(engine)
    finally:
        engine.dispose()
    if problem and problem.startswith("database unreachable"):
        raise Unavailable(f"the database did not answer at {_safe_url(settings.database_url)}")
    if problem:
        raise OperatorError(f"the database is not ready: {problem}")


def cmd_migrate(args) -> int:
    settings = _settings()
    _migrate(settings)
    print(f"medpulse: database is at the latest schema ({_safe_url(settings.database_url)})")
    return 0


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _wait_for_signal() -> threading.Event:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def _start_worker(core):
    from bot.delivery.outbox import DeliveryWorker
    from bot.insights.posting import post_due_summaries
    from bot.rounds.scheduler import Scheduler

    worker = DeliveryWorker(core, concurrency=core.settings.send_concurrency)
    scheduler = Scheduler(core, on_summary=post_due_summaries)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run_forever, args=(stop,), name="delivery", daemon=True)
    thread.start()
    scheduler.start(interval=core.settings.tick_seconds)
    return worker, scheduler, stop, thread


def _stop_worker(parts) -> None:
    worker, scheduler, stop, thread = parts
    scheduler.stop()
    stop.set()
    worker.shutdown()
    thread.join(timeout=30)


def cmd_run(args) -> int:
    settings = _settings()
    if not (settings.any_slack or settings.teams_app_id or settings.teams_tenant_id):
        print(NO_TOKENS, file=sys.stderr)
        if args.no_demo:
            return 0
        print(
            "Meanwhile, here is the local demo: a simulated trust, no Slack needed.\n",
            file=sys.stderr,
        )
        from simulator.demo import main as demo_main

        return demo_main([])
    _require_slack(settings)
    from server import logs
    from server.runtime import build_core

    logs.setup(settings.log_format)
    _migrate(settings)
    core = build_core(settings)
    stop = _wait_for_signal()
    parts = _start_worker(core)
    server = _start_listener(core)
    print(f"medpulse: running ({_listener_desc(settings)}); Ctrl-C to stop", file=sys.stderr)
    stop.wait()
    print("medpulse: stopping: finishing in-flight sends", file=sys.stderr)
    server.stop()
    core.stop()
    _stop_worker(parts)
    return 0


def _listener_desc(settings: Settings) -> str:
    parts, http = [], []
    if settings.slack_app_token:
        parts.append("Socket Mode")
    elif settings.any_slack:
        http.append("/slack/events")
    if settings.has_teams:
        http.append("/api/messages (Teams)")
    if http:
        parts.append(f"HTTP on port {settings.port}, " + ", ".join(http))
    return "; ".join(parts)


class _Listeners:
    """Slack's Socket Mode client and/or the HTTP server, stopped together."""

    def __init__(self, *parts) -> None:
        self.parts = [p for p in parts if p is not None]

    def stop(self) -> None:
        for part in self.parts:
            part.stop()


def _start_listener(core):
    """Socket Mode for Slack when SLACK_APP_TOKEN is set; HTTP for Slack otherwise, and for
    Teams (/api/messages) whenever the TEAMS_* settings are set."""
    settings = core.settings
    socket = None
    if settings.slack_app_token:
        from integrations.slack.listeners.app import socket_mode

        socket = socket_mode(core)
        if not settings.has_teams:
            return socket
    from server.runtime import build_wsgi
    from server.web import HttpServer

    http = HttpServer(build_wsgi(core), port=settings.port, threads=settings.web_threads).start()
    return _Listeners(socket, http) if socket else http


def cmd_web(args) -> int:
    settings = _settings()
    _require_slack(settings)
    if settings.any_slack and not settings.slack_signing_secret:
        raise OperatorError("SLACK_SIGNING_SECRET is required for HTTP mode (medpulse web)")
    check_database_url(settings.database_url)
    from server import logs
    from server.runtime import build_core

    logs.setup(settings.log_format)
    core = build_core(settings)
    stop = _wait_for_signal()
    server = _start_listener(core)
    print(f"medpulse web: listening on port {settings.port}", file=sys.stderr)
    stop.wait()
    server.stop()
    core.stop()
    return 0


def cmd_worker(args) -> int:
    settings = _settings()
    if not (settings.slack_bot_token or settings.multi_workspace or settings.has_teams):
        raise OperatorError(
            "SLACK_BOT_TOKEN (or SLACK_CLIENT_ID and SLACK_CLIENT_SECRET), or the TEAMS_* "
            "settings, are required to send DMs"
        )
    _require_slack(settings, listener=False)
    _require_schema(settings)
    from server import logs
    from server.runtime import build_core

    logs.setup(settings.log_format)
    core = build_core(settings)
    stop = _wait_for_signal()
    parts = _start_worker(core)
    print("medpulse worker: scheduler and delivery running", file=sys.stderr)
    stop.wait()
    _stop_worker(parts)
    return 0


def cmd_questions(args) -> int:
    """``medpulse questions``: listing and checking need no database; only ``import`` opens it."""
    from questions import cli as qcli

    return qcli.run(args, store=lambda items: _store_question_set(args, items))


def _store_question_set(args, items) -> None:
    """Write a validated YAML set to the database as an imported QuestionSet (audited as 'cli')."""
    import re
    from pathlib import Path

    from bot.admin import questions as question_admin
    from server.installed import resolve_team

    core = _core(_settings())
    try:
        team = resolve_team(core, args.team)
        name = args.set_name or re.sub(r"[^a-z0-9_-]+", "-", Path(args.file).stem.lower()).strip(
            "-"
        )
        result = question_admin.import_set(core, team, "cli", name, items)
    finally:
        core.db.dispose()
    print(
        f"medpulse: set '{result.set_name}' in team {team}: {result.added} new, "
        f"{result.reworded} reworded (new version), {result.unchanged} unchanged. "
        f"Switch it per audience with `/pulse questions set {result.set_name} on|off`."
    )


def cmd_roster(args) -> int:
    from bot.people.roster import check_file, import_file
    from server.installed import resolve_team

    data = _read_input(args.file)
    settings = _settings()
    _, checked = check_file(data, settings.grade_names)
    if checked.malformed:
        print(checked.render())
        return checked.exit_code
    core = _core(settings)
    try:
        report = import_file(core, resolve_team(core, args.team), data)
    finally:
        core.db.dispose()
    print(report.render())
    return report.exit_code


def _read_input(path: str) -> bytes:
    """An input file's bytes, or one line saying why it cannot be read."""
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError as exc:
        raise OperatorError(f"cannot read {path}: {exc.strerror or exc}") from None


def _output_path(path: str):
    """Where a command will write, checked before any work: the folder must exist."""
    from pathlib import Path

    out = Path(path)
    if out.is_dir():
        raise OperatorError(f"--out {path} is a folder: name the file to write")
    if not out.resolve().parent.is_dir():
        raise OperatorError(f"--out {path}: the folder {out.resolve().parent} does not exist")
    return out


def cmd_export(args) -> int:
    from bot.insights import export
    from bot.people.workspaces import ensure_team
    from server.installed import resolve_team

    out = _output_path(args.out)
    core = _core(_settings())
    try:
        ws_id = ensure_team(core, resolve_team(core, args.team))
        rows = export.rows(core, ws_id)
    finally:
        core.db.dispose()
    try:
        with open(out, "w", encoding="utf-8", newline="") as fh:
            fh.write(export.to_csv(rows))
    except OSError as exc:
        raise OperatorError(f"cannot write {args.out}: {exc.strerror or exc}") from None
    print(f"medpulse export: wrote {len(rows)} k-protected rows to {args.out}")
    return 0


def cmd_demo(args) -> int:
    from simulator.demo import main as demo_main

    return demo_main(args.demo_args)


def cmd_forget(args) -> int:
    from bot.admin.retention import forget
    from integrations.slack.blocks import user_id_in as parse_user
    from server.installed import resolve_team

    user = parse_user(args.user)
    if user is None:
        raise OperatorError(f"{args.user!r} is not a Slack user ID (like @U012ABCDEF)")
    core = _core(_settings())
    try:
        team = resolve_team(core, args.team)
        done = forget(core, team, user)
    finally:
        core.db.dispose()
    if not done.participants:
        print(f"medpulse forget: nothing stored about {user} in {team}.")
        return 0
    print(
        f"Forgot {user}: removed their participant record and {done.deliveries} deliveries, "
        f"and deleted {done.messages} pulse messages from Slack. "
        "Their anonymous answers stay: nothing links them to anyone."
    )
    if done.kept:
        print(f"medpulse forget: Slack would not delete {done.kept} message(s); see the log.")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="medpulse",
        description="Anonymous medical engagement pulse checks for doctors, in Slack.",
    )
    sub = p.add_subparsers(dest="cmd", metavar="COMMAND")
    run = sub.add_parser(
        "run", help="everything in one process: Slack listener, scheduler, delivery"
    )
    run.add_argument(
        "--no-demo", action="store_true", help="without Slack tokens, explain and exit"
    )
    run.set_defaults(fn=cmd_run)
    sub.add_parser("web", help="only the HTTP listener (Procfile web:)").set_defaults(fn=cmd_web)
    sub.add_parser(
        "worker", help="only the scheduler and delivery (Procfile worker:)"
    ).set_defaults(fn=cmd_worker)
    sub.add_parser(
        "migrate", help="upgrade the database to the latest schema (Procfile release:)"
    ).set_defaults(fn=cmd_migrate)
    q = sub.add_parser("questions", help="show, check or import question sets")
    from questions import cli as qcli

    qcli.add_arguments(q)
    q.add_argument(
        "--team", help="Slack team ID for 'import' (needed only with several workspaces)"
    )
    q.add_argument(
        "--set", dest="set_name", help="name for the imported set (default: the file's name)"
    )
    q.set_defaults(fn=cmd_questions)
    roster = sub.add_parser("roster", help="import departments and grades from a CSV")
    rsub = roster.add_subparsers(dest="roster_cmd", metavar="ACTION", required=True)
    imp = rsub.add_parser(
        "import", help="import FILE.csv (columns slack_id or email, department, grade)"
    )
    imp.add_argument("file")
    imp.add_argument("--team", help="Slack team ID (needed only with several workspaces)")
    roster.set_defaults(fn=cmd_roster)
    ex = sub.add_parser("export", help="write the k-protected aggregates to a CSV file")
    ex.add_argument("--out", required=True, help="where to write the CSV")
    ex.add_argument("--team", help="Slack team ID (needed only with several workspaces)")
    ex.set_defaults(fn=cmd_export)
    fg = sub.add_parser("forget", help="remove a person's identity rows; anonymous answers stay")
    fg.add_argument("user", help="Slack user ID, e.g. @U012ABCDEF")
    fg.add_argument("--team", help="Slack team ID (needed only with several workspaces)")
    fg.set_defaults(fn=cmd_forget)
    demo = sub.add_parser(
        "demo", help="run a simulated trust locally and write ./demo-output/", add_help=False
    )
    demo.add_argument("demo_args", nargs=argparse.REMAINDER)
    demo.set_defaults(fn=cmd_demo)
    from integrations.msteams.package import add_parser as add_teams_package

    add_teams_package(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if getattr(args, "cmd", None) == "demo":
        args.demo_args = [*extra, *args.demo_args]
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if not getattr(args, "fn", None):
        parser.print_help()
        return 0
    return _boundary(args)


def _boundary(args) -> int:
    """The CLI's one error boundary: every failure becomes one line on stderr and an exit code
    (2: bad input the operator can fix; 1: something outside their control)."""
    try:
        return int(args.fn(args) or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        _silence_stdout()  # the reader (`| head`) has what it wanted; nothing to report
        return 0
    except SystemExit:
        raise
    except Exception as exc:  # noqa: BLE001 - the boundary: nothing gets past as a traceback
        if debug():
            raise
        line, code = describe(exc)
        print(f"medpulse {args.cmd}: {line}", file=sys.stderr)
        return code


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


if __name__ == "__main__":
    raise SystemExit(main())
