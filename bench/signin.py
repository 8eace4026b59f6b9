"""A bench's own signed-in user: every command that reads or writes the archive acts as a
user (`vigie init` creates the first administrator of a fresh home), so a bench that drives
the CLI creates its home and that user first, and passes them on in the environment."""

from __future__ import annotations

import secrets
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BENCH_ADMIN = "bench-admin"


def signed_in(env: dict[str, str]) -> dict[str, str]:
    """`env` (whose VIGIE_HOME is a fresh home) with its administrator created and signed in.

    Cleared for every level, so that a bench measures the whole archive it ingests."""
    password = secrets.token_urlsafe(18)
    created = subprocess.run(
        [sys.executable, "-m", "ui.cli", "init", "--admin", BENCH_ADMIN,
         "--clearance", "TRÈS SECRET", "--caveat", "SPÉCIAL FRANCE"],
        capture_output=True, text=True, cwd=REPO, timeout=300, check=False,
        env={**env, "VIGIE_ADMIN_PASSWORD": password},
    )  # fmt: skip
    if created.returncode != 0:
        raise SystemExit(f"vigie init failed ({created.returncode}): {created.stderr[-500:]}")
    return {**env, "VIGIE_USER": BENCH_ADMIN, "VIGIE_PASSWORD": password}
