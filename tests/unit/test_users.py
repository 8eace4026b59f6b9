"""The user store: accounts, passwords, lockout, the last admin, permissions.

Argon2 at its default costs takes a fraction of a second per hash, so every test but one
injects a cheap hasher; the one that does not checks what is really stored.
"""

from __future__ import annotations

import sqlite3
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import argon2
import pytest

from vigie.contracts import Clearance, Level
from vigie.users import (
    BAD_LOGIN,
    MIN_PASSWORD_LENGTH,
    PERMISSIONS,
    Action,
    AuthenticationError,
    Role,
    User,
    UserError,
    UserStore,
)

PASSWORD = "correct horse battery"
OTHER = "another long passphrase"


def cheap_hasher() -> argon2.PasswordHasher:
    return argon2.PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)


class CountingHasher(argon2.PasswordHasher):
    """The cheap hasher, counting its verifies (PasswordHasher's slots forbid patching)."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=8192, parallelism=1)
        self.verifies = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        self.verifies += 1
        return super().verify(hash, password)


class FakeClock:
    """Time that moves only when a test says so (2026-01-01 00:00 UTC to start)."""

    def __init__(self, now: float = 1_767_225_600.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture()
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture()
def path(tmp_path: Path) -> Path:
    return tmp_path / "home" / "users.sqlite3"


@pytest.fixture()
def store(path: Path, clock: FakeClock) -> Iterator[UserStore]:
    users = UserStore(path, max_failures=3, lockout_seconds=600, clock=clock, hasher=cheap_hasher())
    yield users
    users.close()


def stored(path: Path, name: str, column: str) -> object:
    with sqlite3.connect(path) as conn:
        return conn.execute(f"SELECT {column} FROM users WHERE name = ?", (name,)).fetchone()[0]


def test_add_get_list(store: UserStore) -> None:
    alice = store.add("alice", "analyst", Level.SECRET, [" NOFORN ", "", "ALPHA"], PASSWORD)
    store.add("admin", Role.ADMIN, Level.TRES_SECRET, [], PASSWORD)
    assert alice == User("alice", Role.ANALYST, Level.SECRET, frozenset({"NOFORN", "ALPHA"}), True)
    assert store.get("alice") == alice
    assert store.get("bob") is None
    assert [user.name for user in store.list()] == ["admin", "alice"]
    assert alice.clearance == Clearance(Level.SECRET, frozenset({"ALPHA", "NOFORN"}))


def test_caveats_are_stored_sorted_as_json(store: UserStore, path: Path) -> None:
    store.add("alice", "analyst", Level.SECRET, ["NOFORN", "ALPHA", "NOFORN"], PASSWORD)
    assert stored(path, "alice", "caveats") == '["ALPHA", "NOFORN"]'


def test_set_changes_only_what_is_given(store: UserStore) -> None:
    store.add("alice", "analyst", Level.SECRET, ["ALPHA"], PASSWORD)
    changed = store.set("alice", level=Level.DIFFUSION_RESTREINTE)
    assert changed == User("alice", Role.ANALYST, Level.DIFFUSION_RESTREINTE, {"ALPHA"}, True)
    changed = store.set("alice", role="operator", caveats=["BRAVO"])
    assert changed.role is Role.OPERATOR and changed.caveats == {"BRAVO"}
    assert changed.level is Level.DIFFUSION_RESTREINTE
    assert store.get("alice") == changed
    with pytest.raises(UserError, match="no user named 'bob'"):
        store.set("bob", level=Level.SECRET)


def test_disable_and_enable(store: UserStore) -> None:
    store.add("alice", "analyst", Level.SECRET, [], PASSWORD)
    assert store.disable("alice").active is False
    assert store.get("alice").active is False
    assert store.set("alice", active=True).active is True


@pytest.mark.parametrize(
    "name", ["Alice", "", "-alice", "alice smith", "alice/..", "é", "a" * 65, "alice\n"]
)
def test_invalid_names_are_refused(store: UserStore, name: str) -> None:
    with pytest.raises(UserError, match="invalid user name"):
        store.add(name, "analyst", Level.SECRET, [], PASSWORD)
    assert store.list() == []


def test_valid_names_are_accepted(store: UserStore) -> None:
    for name in ["a", "j.dupont", "user_2", "x-y", "0" * 64]:
        assert store.add(name, "analyst", Level.SECRET, [], PASSWORD).name == name


def test_duplicate_name_is_refused(store: UserStore) -> None:
    store.add("alice", "analyst", Level.SECRET, [], PASSWORD)
    with pytest.raises(UserError, match="already exists"):
        store.add("alice", "admin", Level.TRES_SECRET, [], OTHER)
    assert store.get("alice").role is Role.ANALYST


def test_weak_passwords_are_refused(store: UserStore) -> None:
    with pytest.raises(UserError, match=f"at least {MIN_PASSWORD_LENGTH}"):
        store.add("alice", "analyst", Level.SECRET, [], "x" * (MIN_PASSWORD_LENGTH - 1))
    with pytest.raises(UserError, match="user name"):
        store.add("alice.martin", "analyst", Level.SECRET, [], "alice.martin")
    assert store.list() == []
    assert store.add("alice", "analyst", Level.SECRET, [], "x" * MIN_PASSWORD_LENGTH)
    with pytest.raises(UserError, match="at least"):
        store.set_password("alice", "short")


def test_unknown_role_lists_the_valid_ones(store: UserStore) -> None:
    with pytest.raises(UserError, match="analyst, operator, admin"):
        store.add("alice", "superuser", Level.SECRET, [], PASSWORD)
    assert store.add("alice", "  ADMIN ", Level.SECRET, [], PASSWORD).role is Role.ADMIN


def test_level_and_caveats_errors(store: UserStore) -> None:
    with pytest.raises(UserError, match="unknown classification level"):
        store.add("alice", "analyst", "ULTRA", [], PASSWORD)
    with pytest.raises(UserError, match="not one string"):
        store.add("alice", "analyst", Level.SECRET, "NOFORN", PASSWORD)
    assert store.add("alice", "analyst", "secret défense", [], PASSWORD).level is Level.SECRET


def test_authenticate_good_and_bad(store: UserStore) -> None:
    alice = store.add("alice", "analyst", Level.SECRET, ["ALPHA"], PASSWORD)
    assert store.authenticate("alice", PASSWORD) == alice
    with pytest.raises(AuthenticationError):
        store.authenticate("alice", OTHER)


def test_same_message_for_unknown_wrong_and_disabled(store: UserStore, path: Path) -> None:
    store.add("alice", "analyst", Level.SECRET, [], PASSWORD)
    store.add("bob", "analyst", Level.SECRET, [], PASSWORD)
    store.disable("bob")
    messages = []
    for name, password in [("nobody", PASSWORD), ("alice", OTHER), ("bob", PASSWORD)]:
        with pytest.raises(AuthenticationError) as caught:
            store.authenticate(name, password)
        messages.append(str(caught.value))
    assert messages == [BAD_LOGIN] * 3
    assert BAD_LOGIN == "unknown user or wrong password"
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM users").fetchone()[0] == 2  # nobody not stored


def test_unknown_and_disabled_names_still_cost_a_verify(path: Path) -> None:
    hasher = CountingHasher()
    with UserStore(path, hasher=hasher) as users:
        users.add("bob", "analyst", Level.SECRET, [], PASSWORD)
        users.disable("bob")
        for name in ["nobody", "bob", "Not A Valid Name"]:
            with pytest.raises(AuthenticationError, match=BAD_LOGIN):
                users.authenticate(name, PASSWORD)
    assert hasher.verifies == 3


def test_lockout_after_max_failures(store: UserStore, clock: FakeClock, path: Path) -> None:
    store.add("alice", "analyst", Level.SECRET, [], PASSWORD)
    for attempt in range(1, 4):
        clock.now += 1
        with pytest.raises(AuthenticationError, match=BAD_LOGIN):
            store.authenticate("alice", OTHER)
        assert stored(path, "alice", "failures") == attempt
        assert stored(path, "alice", "last_failure") == clock.now
    assert stored(path, "alice", "locked_until") == clock.now + 600
    # Locked: even the right password is refused, and the message says until when (UTC).
    with pytest.raises(AuthenticationError) as caught:
        store.authenticate("alice", PASSWORD)
    assert str(caught.value) == "account alice is locked until 00:10 UTC after 3 failed logins"
    clock.now += 599
    with pytest.raises(AuthenticationError, match="locked"):
        store.authenticate("alice", PASSWORD)
    clock.now += 1
    assert store.authenticate("alice", PASSWORD).name == "alice"
    assert stored(path, "alice", "failures") == 0
    assert stored(path, "alice", "locked_until") is None


def test_locked_account_does_not_verify_the_password(path: Path) -> None:
    hasher = CountingHasher()
    with UserStore(path, max_failures=3, hasher=hasher) as users:
        users.add("alice", "analyst", Level.SECRET, [], PASSWORD)
        for _ in range(3):
            with pytest.raises(AuthenticationError):
                users.authenticate("alice", OTHER)
        assert hasher.verifies == 3
        with pytest.raises(AuthenticationError, match="locked"):
            users.authenticate("alice", PASSWORD)
        assert hasher.verifies == 3


def test_failure_after_an_expired_lock_locks_again(store: UserStore, clock: FakeClock) -> None:
    store.add("alice", "analyst", Level.SECRET, [], PASSWORD)
    for _ in range(3):
        with pytest.raises(AuthenticationError):
            store.authenticate("alice", OTHER)
    clock.now += 600
    with pytest.raises(AuthenticationError, match=BAD_LOGIN):
        store.authenticate("alice", OTHER)
    with pytest.raises(AuthenticationError, match="after 4 failed logins"):
        store.authenticate("alice", PASSWORD)


def test_success_resets_failures(store: UserStore, path: Path) -> None:
    store.add("alice", "analyst", Level.SECRET, [], PASSWORD)
    for _ in range(2):
        with pytest.raises(AuthenticationError):
            store.authenticate("alice", OTHER)
    assert stored(path, "alice", "failures") == 2
    store.authenticate("alice", PASSWORD)
    assert stored(path, "alice", "failures") == 0
    # Two more failures do not lock: the count started again.
    for _ in range(2):
        with pytest.raises(AuthenticationError, match=BAD_LOGIN):
            store.authenticate("alice", OTHER)
    assert store.authenticate("alice", PASSWORD).name == "alice"


def test_set_password_clears_the_lock(store: UserStore, path: Path) -> None:
    store.add("alice", "analyst", Level.SECRET, [], PASSWORD)
    for _ in range(3):
        with pytest.raises(AuthenticationError):
            store.authenticate("alice", OTHER)
    store.set_password("alice", OTHER)
    assert stored(path, "alice", "failures") == 0
    assert store.authenticate("alice", OTHER).name == "alice"
    with pytest.raises(AuthenticationError, match=BAD_LOGIN):
        store.authenticate("alice", PASSWORD)


def test_the_last_admin_is_kept(store: UserStore) -> None:
    store.add("root", "admin", Level.TRES_SECRET, [], PASSWORD)
    for change in [{"active": False}, {"role": "analyst"}, {"role": Role.OPERATOR}]:
        with pytest.raises(UserError, match="last active admin"):
            store.set("root", **change)
    with pytest.raises(UserError, match="last active admin"):
        store.disable("root")
    with pytest.raises(UserError, match="last active admin"):
        store.remove("root")
    assert store.get("root") == User("root", Role.ADMIN, Level.TRES_SECRET, frozenset(), True)
    assert store.set("root", level=Level.SECRET).level is Level.SECRET  # not a demotion


def test_an_admin_may_go_when_another_remains(store: UserStore) -> None:
    store.add("root", "admin", Level.TRES_SECRET, [], PASSWORD)
    store.add("deputy", "admin", Level.SECRET, [], PASSWORD)
    store.add("spare", "admin", Level.SECRET, [], PASSWORD)
    store.disable("spare")
    assert store.count_admins() == 2 and store.count_admins(active_only=False) == 3
    assert store.disable("deputy").active is False
    assert store.count_admins() == 1
    with pytest.raises(UserError, match="last active admin"):
        store.set("root", role="analyst")  # the disabled admins do not count
    store.set("spare", active=True)
    store.remove("root")
    assert store.get("root") is None and store.count_admins() == 1


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        (Role.ANALYST, {Action.ASK}),
        (Role.OPERATOR, {Action.INGEST}),
        (Role.ADMIN, set(Action)),
    ],
)
def test_permissions(role: Role, allowed: set[Action]) -> None:
    assert PERMISSIONS[role] == allowed
    user = User("u", role, Level.SECRET, frozenset(), True)
    assert {action for action in Action if user.may(action)} == allowed
    disabled = User("u", role, Level.SECRET, frozenset(), False)
    assert not any(disabled.may(action) for action in Action)


def test_file_is_private(path: Path, store: UserStore) -> None:
    store.add("alice", "analyst", Level.SECRET, [], PASSWORD)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_to_dict_never_holds_the_hash(store: UserStore, path: Path) -> None:
    alice = store.add("alice", "analyst", Level.SECRET, ["NOFORN", "ALPHA"], PASSWORD)
    data = alice.to_dict()
    assert data == {
        "name": "alice",
        "role": "analyst",
        "level": "SECRET",
        "caveats": ["ALPHA", "NOFORN"],
        "active": True,
    }
    password_hash = stored(path, "alice", "password_hash")
    assert password_hash.startswith("$argon2id$")
    assert password_hash not in repr(data) and "argon2" not in repr(data)
    assert PASSWORD not in repr(data) and "argon2" not in repr(alice)


def test_default_hasher_stores_argon2id(tmp_path: Path) -> None:
    path = tmp_path / "users.sqlite3"
    with UserStore(path) as users:
        users.add("alice", "analyst", Level.SECRET, [], PASSWORD)
        password_hash = stored(path, "alice", "password_hash")
        assert password_hash.startswith("$argon2id$")
        assert PASSWORD not in path.read_bytes().decode("latin-1")
        assert not argon2.PasswordHasher().check_needs_rehash(password_hash)
        assert users.authenticate("alice", PASSWORD).name == "alice"


def test_outdated_hash_is_rehashed_on_login(path: Path, clock: FakeClock) -> None:
    with UserStore(path, clock=clock, hasher=cheap_hasher()) as users:
        users.add("alice", "analyst", Level.SECRET, [], PASSWORD)
    old = stored(path, "alice", "password_hash")
    stronger = argon2.PasswordHasher(time_cost=2, memory_cost=8192, parallelism=1)
    with UserStore(path, clock=clock, hasher=stronger) as users:
        users.authenticate("alice", PASSWORD)
        new = stored(path, "alice", "password_hash")
        assert new != old and "t=2" in new
        users.authenticate("alice", PASSWORD)
        assert stored(path, "alice", "password_hash") == new  # not rehashed twice


def test_store_survives_reopen(path: Path, clock: FakeClock) -> None:
    with UserStore(path, max_failures=3, clock=clock, hasher=cheap_hasher()) as users:
        users.add("alice", "analyst", Level.SECRET, ["ALPHA"], PASSWORD)
        for _ in range(3):
            with pytest.raises(AuthenticationError):
                users.authenticate("alice", OTHER)
    with UserStore(path, max_failures=3, clock=clock, hasher=cheap_hasher()) as users:
        assert users.get("alice") == User(
            "alice", Role.ANALYST, Level.SECRET, frozenset({"ALPHA"}), True
        )
        with pytest.raises(AuthenticationError, match="locked"):
            users.authenticate("alice", PASSWORD)
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 1


def test_newer_schema_is_refused(path: Path) -> None:
    UserStore(path, hasher=cheap_hasher()).close()
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 2")
    with pytest.raises(UserError, match="schema version 2"):
        UserStore(path, hasher=cheap_hasher())


def test_failures_are_counted_across_threads_and_processes(path: Path) -> None:
    """Streamlit's threads share one store; the CLI opens a second one on the same file."""
    stores = [UserStore(path, max_failures=1000, hasher=cheap_hasher()) for _ in range(2)]
    stores[0].add("alice", "analyst", Level.SECRET, [], PASSWORD)
    errors: list[BaseException] = []

    def fail_logins(users: UserStore) -> None:
        for _ in range(10):
            try:
                users.authenticate("alice", OTHER)
            except AuthenticationError:
                pass
            except BaseException as error:  # reported by the assertion below
                errors.append(error)

    threads = [threading.Thread(target=fail_logins, args=(stores[i % 2],)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for users in stores:
        users.close()
    assert errors == []
    assert stored(path, "alice", "failures") == 60
