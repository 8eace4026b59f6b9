"""API tokens (vigie/tokens.py) and the HTTP API's sign-in (ui/api.py): a token is
shown once and stored hashed, expires and is revoked; failed sign-ins are limited per
address and per user; the API's errors are JSON with stable codes. No model is loaded:
signing in needs only the users, tokens and audit files."""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from app.services import Services
from app.session import token_sign_in
from tests.conftest import add_user
from ui.api import FailureLimiter, GenerationQueue, VigieApi
from vigie.config import Settings
from vigie.contracts import Level
from vigie.errors import InputError, NotFound
from vigie.tokens import TokenError, TokenStore


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_a_token_is_stored_hashed_in_a_private_file_and_verifies(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "tokens.sqlite3")
    info, token = store.create("alice", "case system", days=30)
    assert token.startswith(f"vigie_{info.id}_")
    assert store.verify(token).owner == "alice"
    raw = (tmp_path / "tokens.sqlite3").read_bytes()
    secret = token.removeprefix(f"vigie_{info.id}_")
    assert secret.encode() not in raw
    assert hashlib.sha256(secret.encode()).hexdigest().encode() in raw
    assert stat.S_IMODE((tmp_path / "tokens.sqlite3").stat().st_mode) == 0o600
    assert "secret" not in str(info.to_dict()) and info.to_dict()["state"] == "active"


@pytest.mark.parametrize(
    "presented",
    ["", "vigie_", "Bearer x", "vigie_0123456789ab_" + "A" * 43, "x" * 5000, None, 42],
)
def test_anything_but_a_live_token_is_refused_in_the_same_words(
    tmp_path: Path, presented: object
) -> None:
    store = TokenStore(tmp_path / "tokens.sqlite3")
    store.create("alice", "script", days=1)
    with pytest.raises(TokenError, match="invalid, expired or revoked API token"):
        store.verify(presented)  # type: ignore[arg-type]


def test_a_token_with_a_wrong_secret_expires_and_is_revoked(tmp_path: Path) -> None:
    clock = Clock()
    store = TokenStore(tmp_path / "tokens.sqlite3", clock=clock)
    info, token = store.create("alice", "script", days=1)
    wrong = token[:-1] + ("A" if token[-1] != "A" else "B")
    with pytest.raises(TokenError):
        store.verify(wrong)
    clock.now += 86400 - 1
    assert store.verify(token).id == info.id
    clock.now += 2
    with pytest.raises(TokenError):
        store.verify(token)
    other, second = store.create("alice", "other", days=10)
    with pytest.raises(NotFound):
        store.revoke(other.id, owner="bob")  # not bob's: as if it did not exist
    assert store.revoke(other.id, owner="alice").state(clock.now) == "revoked"
    with pytest.raises(TokenError):
        store.verify(second)
    assert [t.name for t in store.list("alice")] == ["other", "script"]
    with pytest.raises(InputError):
        store.create("alice", "   ", days=1)
    with pytest.raises(InputError):
        store.create("alice", "forever", days=100_000)


def test_the_failure_limiter_blocks_a_key_for_a_minute_after_its_limit() -> None:
    clock = Clock()
    limiter = FailureLimiter(3, clock=clock)
    for _ in range(3):
        assert limiter.wait("address:a", "user:alice") == 0
        limiter.failed("address:a", "user:alice")
    assert 0 < limiter.wait("address:a") <= 61
    assert limiter.wait("user:alice") > 0 and limiter.wait("address:b") == 0
    clock.now += 61
    assert limiter.wait("address:a", "user:alice") == 0


def test_the_generation_queue_has_one_place_for_the_model_and_n_waiting() -> None:
    from ui.api import ApiError

    queue = GenerationQueue(waiting=1)
    queue.enter()
    queue.enter()
    with pytest.raises(ApiError) as refused:
        queue.enter()
    assert refused.value.status == 503 and refused.value.headers == {"Retry-After": "10"}
    queue.leave()
    queue.enter()


@pytest.fixture()
def services(tmp_path: Path) -> Services:
    home = tmp_path / "home"
    add_user(home, "alice", "analyst", Level.NON_PROTEGE, (), "alice-password-long")
    settings = Settings(home=home, api_failures_per_minute=3)
    services = Services(settings)
    yield services
    services.close()


def test_token_sign_in_acts_as_the_owner_until_the_account_is_disabled(
    services: Services,
) -> None:
    _, token = services.tokens.create("alice", "script", days=1)
    assert token_sign_in(services, token).user.name == "alice"
    services.users.disable("alice")
    with pytest.raises(TokenError):
        token_sign_in(services, token)
    trail = services.audit.path.read_text(encoding="utf-8")
    assert '"login_failed"' in trail and token not in trail


def test_failed_sign_ins_are_limited_per_address_and_per_user(services: Services) -> None:
    info, token = services.tokens.create("alice", "script", days=1)
    wrong = f"vigie_{info.id}_" + "A" * 43
    app = VigieApi(services).app
    guesser = TestClient(app, client=("10.0.0.1", 4000))
    codes = [guesser.get("/v1/models", headers={"Authorization": f"Bearer {wrong}"})
             for _ in range(4)]  # fmt: skip
    assert [r.status_code for r in codes] == [401, 401, 401, 429]
    assert codes[-1].json()["error"]["code"] == "rate_limited" and codes[-1].headers["retry-after"]
    # alice's own token, from another address: her name is being guessed at, so it waits.
    elsewhere = TestClient(app, client=("10.0.0.2", 4000))
    blocked = elsewhere.get("/v1/models", headers={"Authorization": f"Bearer {token}"})
    assert blocked.status_code == 429
    # Another user's token from a third address is not held up by either.
    add_user(services.settings.home, "bob", "analyst", Level.NON_PROTEGE, (), "bob-password-long")
    _, bobs = services.tokens.create("bob", "script", days=1)
    third = TestClient(app, client=("10.0.0.3", 4000))
    assert third.get("/v1/models", headers={"Authorization": f"Bearer {bobs}"}).status_code == 200


def test_api_errors_are_json_with_a_stable_code(services: Services) -> None:
    _, token = services.tokens.create("alice", "script", days=1)
    api = TestClient(VigieApi(services).app)
    signed = {"Authorization": f"Bearer {token}"}
    assert api.get("/v1/health").json() == {"status": "ok", "api": "1"}
    cases = [
        (api.get("/v1/models"), 401, "unauthorized"),
        (api.get("/v1/models", headers={"Authorization": "Basic abc"}), 401, "unauthorized"),
        (api.post("/v1/search", headers=signed, content=b"[1, 2]"), 400, "invalid_json"),
        (api.post("/v1/search", headers=signed, json={"query": 3}), 400, "invalid_request"),
        (api.post("/v1/search", headers=signed, json={}), 400, "invalid_request"),
        (api.post("/v1/ask", headers=signed, content=b"{" * 70_000), 413, "body_too_large"),
        (api.get("/v1/search", headers=signed), 405, "method_not_allowed"),
        (api.get("/v1/elsewhere", headers=signed), 404, "not_found"),
        (
            api.post(
                "/v1/chat/completions", headers=signed, json={"model": "vigie", "messages": []}
            ),
            400,
            "invalid_request",
        ),  # fmt: skip
    ]
    for response, status, code in cases:
        assert (response.status_code, response.json()["error"]["code"]) == (status, code)
        assert "Traceback" not in response.text
    spec = api.get("/openapi.json").json()
    assert "/v1/chat/completions" in spec["paths"] and "cdn" not in str(spec).lower()
