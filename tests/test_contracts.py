"""The import-linter contracts in pyproject.toml hold, and they bite.

The layout's promise (README, Design) is one core that knows no chat platform: `bot`, `storage`
and `questions` never import slack_sdk, slack_bolt, the adapters, the simulator or the process, and
`storage` and `questions` never import the core. A contract that nothing could break would prove
nothing, so the second test breaks each one on a copy of the tree and watches lint-imports say so,
naming the contract and the offending import.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
CONTRACTS = {c["id"]: c["name"] for c in CONFIG["contracts"]}


def lint_imports(where: Path) -> tuple[int, str]:
    """Run lint-imports in `where` (it analyses the packages found there, not the installed ones).

    Output is folded to single spaces: the report wraps long contract names at the terminal width.
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["COLUMNS"] = "200"
    cli = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run(
        [str(cli), "--no-logo", "--no-cache"],
        cwd=where,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return done.returncode, " ".join((done.stdout + done.stderr).split())


def test_the_tree_keeps_every_contract():
    rc, out = lint_imports(ROOT)
    assert rc == 0, out
    for name in CONTRACTS.values():
        assert f"{name} KEPT" in out


def _copy_tree(dest: Path) -> Path:
    for package in CONFIG["root_packages"]:
        shutil.copytree(
            ROOT / package, dest / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(ROOT / "pyproject.toml", dest / "pyproject.toml")
    return dest


@pytest.mark.parametrize(
    ("module", "line", "contract", "reported"),
    [
        (
            "bot/rounds/slots.py",
            "import slack_sdk",
            "core-platform-neutral",
            "bot.rounds.slots -> slack_sdk",
        ),
        (
            "storage/anonymity.py",
            "import integrations.slack.gateway",
            "core-platform-neutral",
            "storage.anonymity -> integrations.slack.gateway",
        ),
        (
            "questions/model.py",
            "import bot.clock",
            "data-below-core",
            "questions.model -> bot.clock",
        ),
    ],
)
def test_a_forbidden_import_breaks_its_contract(tmp_path, module, line, contract, reported):
    tree = _copy_tree(tmp_path)
    with open(tree / module, "a") as f:
        f.write(f"\n{line}  # a forbidden import, added by the test\n")
    rc, out = lint_imports(tree)
    assert rc != 0, out
    assert f"{CONTRACTS[contract]} BROKEN" in out
    assert reported in out
