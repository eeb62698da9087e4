"""The demo's output folder: fresh on every run, with an index that says what to open first.

Two runs must never mix (summary 23 of one run beside chart 34 of another), so the folder is
cleared before writing. It is only ever the demo's own folder that is cleared: the demo leaves a
marker file in it, and refuses a folder that has other files and no marker.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from bot.operator_errors import OperatorError

MARKER = ".medpulse-demo"

CHANNELS = {
    "C0LEADERS": "the medical leadership channel (trust-wide)",
    "C0EDLEADS": "the Emergency Medicine leads' channel (their department only)",
}
CHARTS = {
    "medpulse-summary.png": "the summary's chart: headline score over the periods and theme "
    "scores with 95% intervals",
    "medpulse-gap.png": "the perception gap: the leadership team's checklist ratings beside "
    "doctors' scores",
    "medpulse-checklist.png": "the leadership checklist page (one PNG for a board or workshop), "
    "sent to the admin by DM",
}


DEMO_FILE = re.compile(
    r"(summary-\d+-\w+\.(json|txt)|chart-\d+-[\w.-]+\.png|index\.md|region-[\w-]+\.(json|txt|png))$"
)
REGION = {  # simulator.region_demo's files
    "region-comparison.txt": "the region's monthly comparison of three trusts, as the regional "
    "leaders' channel reads it",
    "region-comparison.json": "the same comparison as Block Kit JSON",
    "region-chart.png": "the comparison's chart: response rate and headline by trust, and by "
    "specialty where three or more trusts contribute",
}


def _ours(out: Path) -> bool:
    """Marked by the demo, or holding only files named as the demo names them (a folder from
    a version that wrote no marker)."""
    return (out / MARKER).exists() or all(DEMO_FILE.match(p.name) for p in out.iterdir())


def check(out: Path) -> None:
    """Refuse, before the run starts, a folder the demo did not make and would overwrite."""
    if out.exists() and not out.is_dir():
        raise OperatorError(f"--out {out} is a file, not a folder")
    if out.is_dir() and not _ours(out):
        raise OperatorError(
            f"--out {out} already holds files the demo did not write: choose another folder"
        )


def reset(out: Path) -> None:
    """An empty folder marked as the demo's own."""
    check(out)
    if out.is_dir():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / MARKER).write_text("Written by `medpulse demo`; cleared on its next run.\n")


TEAMS_FILES = {
    "teams-pulse-card.json": "a pulse card as a doctor received it in Teams (Adaptive Card JSON)",
    "teams-closed-pulse-card.json": "the closed card every pulse card became (Adaptive Card JSON)",
}


def _what(path: Path) -> str:
    name = path.name
    if name in REGION:
        return REGION[name]
    if name in TEAMS_FILES:
        return TEAMS_FILES[name]
    m = re.match(r"summary-(\d+)-teams-card\.json$", name)
    if m:
        return f"summary {int(m.group(1))} posted to the leadership team, as Adaptive Card JSON"
    m = re.match(r"chart-(\d+)-teams-summary\.png$", name)
    if m:
        return f"the chart inline in summary card {int(m.group(1))}, in the leadership team"
    m = re.match(r"summary-(\d+)-(\w+)\.(json|txt)$", name)
    if m:
        where = CHANNELS.get(m.group(2), f"channel {m.group(2)}")
        form = "as a person reads it" if m.group(3) == "txt" else "as Block Kit JSON"
        return f"summary {int(m.group(1))} posted to {where}, {form}"
    m = re.match(r"chart-\d+-(\w+?)-(medpulse-\w+\.png)$", name)
    if m:
        return CHARTS.get(m.group(2), "a chart") + (
            "" if m.group(1).startswith("D") else f", in {CHANNELS.get(m.group(1), m.group(1))}"
        )
    return "output"


def _latest(files: list[Path], pattern: str) -> Path | None:
    matching = [f for f in files if re.match(pattern, f.name)]
    return matching[-1] if matching else None


# Per platform: its name, then the patterns of the latest summary and chart to open first.
OPEN_FIRST = {
    "slack": (
        "Slack",
        r"summary-\d+-C0LEADERS\.txt$",
        r"chart-\d+-C0LEADERS-medpulse-summary\.png$",
    ),
    "teams": ("Teams", r"summary-\d+-teams-card\.json$", r"chart-\d+-teams-summary\.png$"),
}


def write_index(
    out: Path, files: list[Path], doctors: int, rounds: int, platform: str = "slack"
) -> Path:
    """index.md: what to open first, then one line per file saying what it shows, in the
    words of the platform the demo ran as (``medpulse demo --platform``)."""
    files = sorted(files, key=lambda p: p.name)
    name, summary_file, chart_file = OPEN_FIRST[platform]
    summary = _latest(files, summary_file)
    chart = _latest(files, chart_file)
    where = "that channel" if platform == "slack" else "that team"
    lines = [
        "# medpulse demo: what to open",
        "",
        f"A simulated trust ({doctors} doctors, 8 departments, {rounds} fortnightly pulses) run "
        f"through the real app against a simulated {name}, on a throwaway database that was "
        "deleted at the end. Radiology is hard to reach and resident doctors' involvement "
        "improves, so the summaries have something true to say.",
        "",
        "## Open first",
        "",
    ]
    if summary:
        lines.append(f"1. `{summary.name}`: the latest summary the medical directors received.")
    if chart:
        lines.append(f"2. `{chart.name}`: the latest chart posted to {where}.")
    if any(f.name in REGION for f in files):
        lines += [
            "",
            "## The region",
            "",
            "Three more simulated trusts on one medpulse opt in to a region "
            "(`simulator/region_demo.py` says what is planted). Open `region-comparison.txt` "
            "and `region-chart.png`. Planted: Emergency Medicine is hard to reach in two trusts "
            "of three, and Northfield's doctors answer more often after it shares results back; "
            "the comparison says only what its figures show beyond noise.",
        ]
    lines += ["", "## Every file", "", "| File | What it shows |", "|---|---|"]
    lines += [f"| `{f.name}` | {_what(f)} |" for f in files]
    index = out / "index.md"
    index.write_text("\n".join(lines) + "\n")
    return index
