"""The Teams app package: ``teams/manifest.json`` filled in, with its two icons, in one zip.

``medpulse teams-package --host HOST --app-id ID --out FILE.zip`` writes what a Teams
administrator uploads (Teams admin centre, or *Apps → Manage your apps → Upload an app*). The
template names the app ID and the host as ``{{APP_ID}}`` and ``{{HOST}}``; the bot's messaging
endpoint (``https://HOST/api/messages``) is set in the Azure Bot registration, not here.

Checks made before anything is written, each failing with one line: the app ID is a GUID (the
Entra ID application's client ID), the host is a bare host name, and the filled manifest keeps
Teams' limits (short name 30 characters, short description 80, at most 10 commands a list of
32-character titles and 128-character descriptions, ``help`` first in every list).
"""

from __future__ import annotations

import argparse
import io
import json
import re
import sys
import zipfile
from importlib import metadata
from pathlib import Path
from typing import Any

TEAMS_DIR = Path(__file__).resolve().parents[2] / "teams"
ICONS = {"color.png": (192, 192), "outline.png": (32, 32)}
_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_HOST = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
NHS_BLUE = (0, 94, 184)


class PackageError(ValueError):
    """Why the package cannot be built, in one line."""


def fill(template: str, app_id: str, host: str, version: str) -> dict[str, Any]:
    """The manifest with the placeholders replaced, after checking the two values."""
    if not _GUID.match(app_id):
        raise PackageError(f"--app-id must be the app's GUID (Entra ID client ID), not {app_id!r}")
    host = host.strip().lower()
    if not _HOST.match(host):
        raise PackageError(
            f"--host must be a bare host name such as medpulse.example.nhs.uk, not {host!r}"
        )
    text = (
        template.replace("{{APP_ID}}", app_id)
        .replace("{{HOST}}", host)
        .replace("{{VERSION}}", version)
    )
    manifest = json.loads(text)
    check(manifest)
    return manifest


def check(manifest: dict[str, Any]) -> None:
    """Teams' limits on the fields we fill (the schema has more; these are the ones we set)."""
    if len(manifest["name"]["short"]) > 30:
        raise PackageError("name.short is over 30 characters")
    if len(manifest["description"]["short"]) > 80:
        raise PackageError("description.short is over 80 characters")
    if len(manifest["description"]["full"]) > 4000:
        raise PackageError("description.full is over 4000 characters")
    for bot in manifest["bots"]:
        for command_list in bot.get("commandLists", []):
            commands = command_list["commands"]
            if not commands or commands[0]["title"] != "help":
                raise PackageError("every command list must start with help")
            if len(commands) > 10:
                raise PackageError("a command list holds at most 10 commands")
            for command in commands:
                if len(command["title"]) > 32 or len(command["description"]) > 128:
                    raise PackageError(f"command {command['title']!r} is too long")


def build(out: Path, app_id: str, host: str, source: Path = TEAMS_DIR) -> dict[str, Any]:
    """Write the zip (manifest and icons at its root); returns the filled manifest."""
    try:
        template = (source / "manifest.json").read_text(encoding="utf-8")
    except OSError:
        raise PackageError(f"no manifest template at {source / 'manifest.json'}") from None
    manifest = fill(template, app_id, host, _version())
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False))
        for name in ICONS:
            try:
                zf.write(source / name, name)
            except OSError:
                raise PackageError(f"icon missing: {source / name}") from None
    try:
        out.write_bytes(buffer.getvalue())
    except OSError as exc:
        raise PackageError(f"cannot write {out}: {exc.strerror}") from None
    return manifest


def _version() -> str:
    try:
        return metadata.version("medpulse")
    except metadata.PackageNotFoundError:
        return "0.1.0"


def draw_icons(folder: Path) -> None:
    """Draw the two icons Teams asks for: a full-colour 192 px tile on a solid square and a
    32 px outline (white on transparent). The mark is a pulse line, as on a monitor; NHS blue.
    Run once to make ``teams/*.png`` (they are committed): ``python -m integrations.msteams.package``."""
    from PIL import Image, ImageDraw

    points = [(0.12, 0.55), (0.34, 0.55), (0.42, 0.33), (0.52, 0.75), (0.6, 0.45), (0.66, 0.55)]
    points.append((0.88, 0.55))

    def line(draw: ImageDraw.ImageDraw, size: int, width: int, fill: tuple) -> None:
        draw.line([(x * size, y * size) for x, y in points], fill=fill, width=width, joint="curve")

    scale = 4  # draw large, shrink: smooth edges
    big = 192 * scale
    color = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    draw = ImageDraw.Draw(color)
    draw.rectangle((0, 0, big - 1, big - 1), fill=(*NHS_BLUE, 255))  # Teams rounds it itself
    line(draw, big, 14 * scale, (255, 255, 255, 255))
    color.resize((192, 192), Image.LANCZOS).save(folder / "color.png")

    small = 32 * 8
    outline = Image.new("RGBA", (small, small), (0, 0, 0, 0))
    line(ImageDraw.Draw(outline), small, 3 * 8, (255, 255, 255, 255))
    outline.resize((32, 32), Image.LANCZOS).save(folder / "outline.png")


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``medpulse teams-package`` on the main parser (one call from server/cli.py)."""
    p = sub.add_parser("teams-package", help="build the Microsoft Teams app package (a zip)")
    p.add_argument("--host", required=True, help="public host name serving /api/messages")
    p.add_argument("--app-id", required=True, help="the bot's Microsoft App ID (a GUID)")
    p.add_argument("--out", required=True, help="where to write the zip, e.g. medpulse.zip")
    p.set_defaults(fn=run)


def run(args: argparse.Namespace) -> int:
    try:
        manifest = build(Path(args.out), args.app_id, args.host)
    except PackageError as exc:
        print(f"medpulse teams-package: {exc}", file=sys.stderr)
        return 2
    print(
        f"medpulse teams-package: wrote {args.out} (app {manifest['id']}, "
        f"version {manifest['version']}, valid domain {manifest['validDomains'][0]}). "
        "Upload it in the Teams admin centre; see README, 'Connect Microsoft Teams'."
    )
    return 0


if __name__ == "__main__":
    draw_icons(TEAMS_DIR)
