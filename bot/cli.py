"""The `medpulse` command line: run, web, worker, migrate, questions, roster, demo, export."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from bot.settings import Settings, SettingsError, load_settings

NO_TOKENS = """\
medpulse is not connected to Slack yet (no SLACK_BOT_TOKEN / SLACK_SIGNING_SECRET set).
To connect: create an app at https://api.slack.com/apps -> "From an app manifest", paste
slack-app-manifest.yml, install it, then put its tokens in .env (see README, "Connect Slack").
"""


def _settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        print(f"medpulse: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def _migrate(settings: Settings) -> None:
    from storage.migrate import upgrade

    upgrade(settings.database_url)


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
    from bot.delivery import DeliveryWorker
    from bot.scheduler import Scheduler
    from bot.summary_job import post_due_summaries

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
    if not (settings.slack_bot_token or settings.multi_workspace) or not (
        settings.slack_signing_secret or settings.slack_app_token
    ):
        print(NO_TOKENS, file=sys.stderr)
        if args.no_demo:
            return 0
        print(
            "Meanwhile, here is the local demo: a simulated trust, no Slack needed.\n",
            file=sys.stderr,
        )
        from bot.demo import main as demo_main

        return demo_main([])
    from bot import logs
    from bot.runtime import build_core

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
    if settings.slack_app_token:
        return "Socket Mode"
    return f"HTTP on port {settings.port}, /slack/events"


def _start_listener(core):
    if core.settings.slack_app_token:
        from handlers.app import socket_mode

        return socket_mode(core)
    from bot.runtime import build_wsgi
    from bot.web import HttpServer

    return HttpServer(
        build_wsgi(core), port=core.settings.port, threads=core.settings.web_threads
    ).start()


def cmd_web(args) -> int:
    settings = _settings()
    if not settings.slack_signing_secret:
        print("medpulse web: SLACK_SIGNING_SECRET is required for HTTP mode.", file=sys.stderr)
        return 2
    from bot import logs
    from bot.runtime import build_core

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
    if not (settings.slack_bot_token or settings.multi_workspace):
        print(
            "medpulse worker: SLACK_BOT_TOKEN (or SLACK_CLIENT_ID and SLACK_CLIENT_SECRET) "
            "is required to send DMs.",
            file=sys.stderr,
        )
        return 2
    from bot import logs
    from bot.runtime import build_core

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
    from bot.admin import AdminError
    from questions import cli as qcli

    try:
        return qcli.run(args, store=lambda items: _store_question_set(args, items))
    except AdminError as exc:
        print(f"error: {exc}", file=sys.stdout)
        return 1


def _store_question_set(args, items) -> None:
    """Write a validated YAML set to the database as an imported QuestionSet (audited as 'cli')."""
    import re
    from pathlib import Path

    from bot import question_admin
    from bot.admin import AdminError
    from bot.runtime import build_core
    from bot.workspaces import ensure_team

    settings = _settings()
    _migrate(settings)
    core = build_core(settings)
    try:
        team = args.team or _only_team(core)
        if team is None:
            raise AdminError(
                "name the Slack workspace with --team T… (Slack team ID): "
                "none or several use this database"
            )
        ensure_team(core, team)
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
    from bot.roster import cli_import

    settings = _settings()
    _migrate(settings)
    return cli_import(settings, args.file, args.team)


def cmd_export(args) -> int:
    from bot import export
    from bot.runtime import build_core
    from bot.workspaces import ensure_team

    settings = _settings()
    _migrate(settings)
    core = build_core(settings)
    team = args.team or _only_team(core)
    if team is None:
        print("medpulse export: name the workspace with --team T… (none or several are set up)")
        return 2
    ws_id = ensure_team(core, team)
    rows = export.rows(core, ws_id)
    with open(args.out, "w", encoding="utf-8", newline="") as fh:
        fh.write(export.to_csv(rows))
    print(f"medpulse export: wrote {len(rows)} k-protected rows to {args.out}")
    return 0


def cmd_demo(args) -> int:
    from bot.demo import main as demo_main

    return demo_main(args.demo_args)


def cmd_forget(args) -> int:
    from bot.retention import forget, parse_user
    from bot.runtime import build_core

    user = parse_user(args.user)
    if user is None:
        print(f"medpulse forget: {args.user!r} is not a Slack user ID (like @U012ABCDEF)")
        return 2
    settings = _settings()
    _migrate(settings)
    core = build_core(settings)
    team = args.team or _only_team(core)
    if team is None:
        print("medpulse forget: several workspaces are installed; name one with --team T…")
        return 2
    done = forget(core, team, user)
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


def _only_team(core) -> str | None:
    """The one workspace in the database; None when there are none or several, because then
    guessing could write to the wrong trust and the operator must pass --team."""
    from sqlalchemy import select

    from storage.models import Workspace

    with core.db.Session() as s:
        teams = list(s.scalars(select(Workspace.team_id)))
    return teams[0] if len(teams) == 1 else None


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
    from bot.msteams.package import add_parser as add_teams_package

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
    try:
        return int(args.fn(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
