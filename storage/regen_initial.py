"""Developer tool: regenerate the initial migration from the models (only before it has shipped).

Run: python -m storage.regen_initial
"""

import os
import shutil
import subprocess
import tempfile

from alembic import command

from storage.migrate import MIGRATIONS, alembic_config

if __name__ == "__main__":
    target = MIGRATIONS / "versions" / "0001_initial_schema.py"
    target.unlink(missing_ok=True)
    path = os.path.join(tempfile.mkdtemp(), "gen.db")
    command.revision(
        alembic_config(f"sqlite:///{path}"),
        message="initial schema",
        autogenerate=True,
        rev_id="0001",
    )
    if shutil.which("ruff"):
        subprocess.run(["ruff", "check", "--fix", "-q", str(target)], check=False)
        subprocess.run(["ruff", "format", "-q", str(target)], check=False)
