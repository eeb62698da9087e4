"""What an operator sees when a command fails: one line and an exit code, never a traceback.

Exit code 2 means bad input the operator can fix (a missing file, a mistyped workspace, a roster
that is not a roster); 1 means a failure outside their control (the database or the chat
platform cannot be reached). The CLI has one error boundary (``server.cli.main``) that hands every exception to
:func:`describe`, so commands raise instead of printing and returning codes themselves.
"""

from __future__ import annotations

import os
from pathlib import Path

BAD_INPUT = 2
UNAVAILABLE = 1


class OperatorError(Exception):
    """A problem already phrased for the operator; ``code`` is the process exit code."""

    code = BAD_INPUT

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class Unavailable(OperatorError):
    """Something outside the operator's control (database, Slack, Teams) did not answer."""

    code = UNAVAILABLE


def _first_line(text: object) -> str:
    lines = [ln.strip() for ln in str(text).splitlines() if ln.strip()]
    return lines[0] if lines else ""


def _database(exc: Exception) -> tuple[str, int]:
    reason = _first_line(getattr(exc, "orig", None) or exc)
    return f"the database did not answer: {reason}", UNAVAILABLE


def _slack(exc: Exception) -> tuple[str, int]:
    from bot.chat.errors import Permanent

    reason = getattr(exc, "error", None) or _first_line(exc) or type(exc).__name__
    if isinstance(exc, Permanent):
        return (
            f"the chat platform refused the request ({reason}): check the bot's credentials "
            "(Slack: the bot token and its scopes; Teams: TEAMS_APP_ID and TEAMS_APP_PASSWORD)",
            2,
        )
    return f"the chat platform could not be reached ({reason}); try again later", UNAVAILABLE


def describe(exc: BaseException) -> tuple[str, int]:
    """One line and an exit code for any exception that reached the CLI's boundary."""
    from alembic.util.exc import CommandError
    from sqlalchemy.exc import InterfaceError, OperationalError

    from bot.admin.operations import AdminError
    from bot.chat.errors import ChatError, NotInstalled

    if isinstance(exc, OperatorError):
        return str(exc), exc.code
    if isinstance(exc, AdminError):  # the same refusals admins get in Slack, already phrased
        return str(exc), BAD_INPUT
    if isinstance(exc, CommandError):
        return (
            f"the database schema cannot be migrated: {_first_line(exc)} "
            "(is this database from a newer medpulse?)",
            UNAVAILABLE,
        )
    if isinstance(exc, (OperationalError, InterfaceError)):
        return _database(exc)
    if isinstance(exc, NotInstalled):
        return f"workspace {exc} is not installed (install it through /slack/install)", 2
    if isinstance(exc, ChatError):
        return _slack(exc)
    if isinstance(exc, UnicodeDecodeError):
        return "the file is not text (is it binary, or in an encoding medpulse cannot read?)", 2
    if isinstance(exc, OSError) and exc.filename is not None:
        return f"{exc.filename}: {exc.strerror or _first_line(exc)}", 2
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return f"a service did not answer: {_first_line(exc) or type(exc).__name__}", 1
    return (
        f"unexpected {type(exc).__name__}: {_first_line(exc)} "
        "(set MEDPULSE_DEBUG=1 to see the traceback)",
        UNAVAILABLE,
    )


def debug() -> bool:
    """MEDPULSE_DEBUG=1 lets a traceback through, for a developer chasing a bug."""
    return os.environ.get("MEDPULSE_DEBUG", "") not in ("", "0")


def check_database_url(url: str) -> None:
    """Refuse a SQLite file in a folder that does not exist before SQLAlchemy tries it (its own
    error, 'unable to open database file', does not say why)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return
    if parsed.database == ":memory:" or parsed.database.startswith("file:"):
        return
    folder = Path(parsed.database).expanduser().resolve().parent
    if not folder.is_dir():
        raise OperatorError(
            f"DATABASE_URL: the folder {folder} does not exist "
            "(create it, or point DATABASE_URL at a folder that does)"
        )
