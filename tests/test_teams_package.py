"""`medpulse teams-package` as an operator meets it: a zip Teams accepts, or one clear line."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

from PIL import Image

MEDPULSE = str(Path(sys.executable).parent / "medpulse")
APP_ID = "8c1f6c6e-1234-4abc-8def-00000000a11d"


def _run(args, cwd):
    return subprocess.run(
        [MEDPULSE, "teams-package", *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def test_the_package_holds_a_filled_manifest_and_both_icons(tmp_path):
    out = _run(["--host", "pulse.example.nhs.uk", "--app-id", APP_ID, "--out", "app.zip"], tmp_path)
    assert out.returncode == 0, out.stderr
    assert "app.zip" in out.stdout
    with zipfile.ZipFile(tmp_path / "app.zip") as zf:
        assert sorted(zf.namelist()) == ["color.png", "manifest.json", "outline.png"]
        manifest = json.loads(zf.read("manifest.json"))
        color = Image.open(io.BytesIO(zf.read("color.png")))
        outline = Image.open(io.BytesIO(zf.read("outline.png")))
    assert "{{" not in json.dumps(manifest)
    assert manifest["id"] == APP_ID
    [bot] = manifest["bots"]
    assert bot["botId"] == APP_ID
    assert set(bot["scopes"]) == {"personal", "team"}
    assert manifest["validDomains"] == ["pulse.example.nhs.uk"]
    assert {tuple(c["scopes"]) for c in bot["commandLists"]} == {("personal",), ("team",)}
    for command_list in bot["commandLists"]:
        assert command_list["commands"][0]["title"] == "help"
        assert len(command_list["commands"]) <= 10
    assert color.size == (192, 192)
    assert outline.size == (32, 32) and outline.mode == "RGBA"
    raw = outline.tobytes()
    pixels = [tuple(raw[i : i + 4]) for i in range(0, len(raw), 4)]
    assert all(a == 0 or (r, g, b) == (255, 255, 255) for r, g, b, a in pixels), "outline: white"
    assert sum(a == 0 for *_, a in pixels) > len(pixels) / 2, "outline: transparent background"


def test_bad_input_gets_one_line_and_no_zip(tmp_path):
    cases = [
        ["--host", "pulse.example.nhs.uk", "--app-id", "not-a-guid"],
        ["--host", "https://pulse.example.nhs.uk/api/messages", "--app-id", APP_ID],
        ["--host", "pulse", "--app-id", APP_ID],
    ]
    for args in cases:
        out = _run([*args, "--out", "app.zip"], tmp_path)
        assert out.returncode == 2
        assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr, out.stderr
        assert not (tmp_path / "app.zip").exists()
    out = _run(
        ["--host", "pulse.example.nhs.uk", "--app-id", APP_ID, "--out", "no/such/dir.zip"], tmp_path
    )
    assert out.returncode == 2 and "cannot write" in out.stderr
