"""Users, roles and the audit trail through the command line, as an administrator,
an analyst and an operator meet them."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from tests.conftest import ADMIN, ADMIN_PASSWORD, run_vigie
from vigie.audit import AuditTrail

ANALYST = {"VIGIE_USER": "alice", "VIGIE_PASSWORD": "alice-password-1"}


def one_line_error(result) -> str:
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def add_alice(home: Path, models_dir: Path) -> None:
    # The acting admin's password from VIGIE_PASSWORD, the new user's from stdin.
    result = run_vigie(
        ["users", "add", "alice", "--role", "analyst", "--clearance", "diffusion restreinte",
         "--caveat", "special france"],
        home, models_dir, input="alice-password-1\n",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "added alice (analyst, DIFFUSION RESTREINTE)" in result.stdout


def test_init_creates_a_private_home_and_one_admin_once(tmp_path: Path, models_dir: Path) -> None:
    home = tmp_path / "fresh"
    env = {"VIGIE_ADMIN_PASSWORD": ""}
    first = run_vigie(["init", "--admin", "chef"], home, models_dir, **env)
    assert first.returncode == 0, first.stderr
    generated = first.stdout.split("password (shown once")[1].split(": ", 1)[1].strip()
    assert len(generated) >= 20  # generated, never a fixed default
    assert stat.S_IMODE(os.stat(home).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(home / "users.sqlite3").st_mode) == 0o600
    again = run_vigie(["init", "--admin", "chef"], home, models_dir, **env)
    assert again.returncode == 0 and "already set up" in again.stdout
    listed = run_vigie(
        ["users", "list", "--json"], home, models_dir, VIGIE_USER="chef", VIGIE_PASSWORD=generated
    )
    assert [u["name"] for u in json.loads(listed.stdout)] == ["chef"]


def test_admin_manages_users_and_roles_gate_the_commands(home: Path, models_dir: Path) -> None:
    add_alice(home, models_dir)
    listed = json.loads(run_vigie(["users", "list", "--json"], home, models_dir).stdout)
    alice = next(u for u in listed if u["name"] == "alice")
    assert alice["caveats"] == ["SPÉCIAL FRANCE"] and alice["role"] == "analyst"
    assert "password" not in json.dumps(listed) and "argon2" not in json.dumps(listed)

    denied = one_line_error(run_vigie(["ingest", "samples"], home, models_dir, **ANALYST))
    assert denied == "vigie: error: alice (analyst) may not ingest"
    users = one_line_error(run_vigie(["users", "list"], home, models_dir, **ANALYST))
    assert "may not manage users" in users
    audit = one_line_error(run_vigie(["audit", "verify"], home, models_dir, **ANALYST))
    assert "may not" in audit
    searched = run_vigie(["search", "budget"], home, models_dir, **ANALYST)
    assert searched.returncode == 0, searched.stderr

    wrong = {"VIGIE_USER": "alice", "VIGIE_PASSWORD": "not-her-password"}
    assert one_line_error(run_vigie(["search", "budget"], home, models_dir, **wrong)) == (
        "vigie: error: unknown user or wrong password"
    )
    nobody = one_line_error(run_vigie(["search", "x"], home, models_dir, VIGIE_USER=""))
    assert "give --user NAME" in nobody

    assert run_vigie(["users", "disable", "alice"], home, models_dir).returncode == 0
    gone = one_line_error(run_vigie(["search", "budget"], home, models_dir, **ANALYST))
    assert gone == "vigie: error: unknown user or wrong password"
    last_admin = one_line_error(run_vigie(["users", "disable", ADMIN], home, models_dir))
    assert "admin" in last_admin

    actions = [r.action for r in AuditTrail(home / "audit.jsonl").records()]
    for expected in ("user_added", "denied", "login_failed", "search", "user_changed"):
        assert expected in actions, expected


def test_audit_verify_names_the_first_tampered_record(home: Path, models_dir: Path) -> None:
    add_alice(home, models_dir)
    assert run_vigie(["search", "budget"], home, models_dir, **ANALYST).returncode == 0
    intact = run_vigie(["audit", "verify"], home, models_dir)
    assert intact.returncode == 0 and "audit trail intact" in intact.stdout
    trail = home / "audit.jsonl"
    lines = trail.read_text(encoding="utf-8").splitlines(keepends=True)
    search_line = next(i for i, line in enumerate(lines) if '"action":"search"' in line)
    lines[search_line] = lines[search_line].replace("budget", "rien")
    trail.write_text("".join(lines), encoding="utf-8")
    broken = run_vigie(["audit", "verify"], home, models_dir)
    assert broken.returncode == 1
    assert f"record {search_line + 1} " in broken.stderr and "BROKEN" in broken.stderr


def test_audit_export_writes_jsonl_since_a_day(home: Path, models_dir: Path) -> None:
    add_alice(home, models_dir)
    out = home.parent / "siem.jsonl"
    result = run_vigie(["audit", "export", "--since", "2000-01-01", "--out", str(out)], home,
                       models_dir)  # fmt: skip
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert records and {"seq", "time", "actor", "action", "details", "prev", "hash"} <= set(
        records[0]
    )
    assert any(r["action"] == "user_added" for r in records)
    future = run_vigie(["audit", "export", "--since", "2999-01-01"], home, models_dir)
    assert future.stdout.strip() == ""
    bad = one_line_error(run_vigie(["audit", "export", "--since", "yesterday"], home, models_dir))
    assert "ISO 8601" in bad


def test_the_admin_password_never_lands_in_the_trail(home: Path, models_dir: Path) -> None:
    add_alice(home, models_dir)
    run_vigie(["search", "x"], home, models_dir, VIGIE_USER="alice", VIGIE_PASSWORD="typo-pass")
    text = (home / "audit.jsonl").read_text(encoding="utf-8")
    assert ADMIN_PASSWORD not in text and "alice-password-1" not in text
    assert "typo-pass" not in text


def test_doctor_checks_the_home_the_admin_and_the_trail(home: Path, models_dir: Path) -> None:
    add_alice(home, models_dir)
    healthy = run_vigie(["doctor"], home, models_dir)
    assert healthy.returncode == 0, healthy.stdout
    for line in ("private to its owner", "an active administrator exists", "intact", "soffice"):
        assert any(line in out and out.startswith("ok") for out in healthy.stdout.splitlines())
    home.chmod(0o755)
    opened = run_vigie(["doctor"], home, models_dir)
    assert opened.returncode == 1 and "FAIL" in opened.stdout and "chmod 700" in opened.stdout
    home.chmod(0o700)
    trail = home / "audit.jsonl"
    lines = trail.read_text(encoding="utf-8").splitlines(keepends=True)
    trail.write_text("".join(lines[:1] + lines[2:]), encoding="utf-8")  # one record removed
    tampered = run_vigie(["doctor"], home, models_dir)
    assert tampered.returncode == 1
    assert any(out.startswith("FAIL audit trail") for out in tampered.stdout.splitlines())


def test_an_export_of_a_broken_trail_is_one_line(home: Path, models_dir: Path) -> None:
    add_alice(home, models_dir)
    with (home / "audit.jsonl").open("a", encoding="utf-8") as trail:
        trail.write("not a record\n")
    broken = one_line_error(run_vigie(["audit", "export"], home, models_dir))
    assert "run `vigie audit verify`" in broken
