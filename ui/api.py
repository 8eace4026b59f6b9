"""The HTTP API (`vigie serve`): the signed-in session, for programs.

Each request signs in with an API token (`Authorization: Bearer vigie_...`, made by
`vigie tokens create`), or, where configured, with the reverse proxy's user header.
It then calls the same `app.session.Session` use case as the CLI and the UI, so the
user's role, clearance and audit trail are the same in all three.

Routes (all JSON; see `GET /openapi.json`):

    GET    /v1/health                   no sign-in; says only that the server runs
    POST   /v1/search                   {"query", "limit", "mode"}
    POST   /v1/ask                      {"question", "conversation", "stream"}
    GET    /v1/documents/{id}           metadata and the passages the caller may read
    GET    /v1/conversations            the caller's conversations
    GET    /v1/conversations/{id}       one, its sources re-checked against the caller now
    DELETE /v1/conversations/{id}
    GET    /v1/models                   OpenAI-compatible: the one answer model
    POST   /v1/chat/completions         OpenAI-compatible chat (streaming or not)

Errors are `{"error": {"code", "message"}}` with a stable code and status; a bug is
logged with its traceback and answered 500 `internal_error`, nothing more.

Answers: one model answers one question at a time; up to `api_queue_size` more wait
for it, beyond that a request is answered 503 with `Retry-After`. Searches do not
wait for the model. A client that disconnects mid-answer stops the model after its
current token (the answer is audited as cancelled).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
import uuid
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from vigie.errors import (
    Conflict,
    InputError,
    NotFound,
    PermissionDenied,
    Unavailable,
    VigieError,
)

if TYPE_CHECKING:
    from app.results import Answer, AnswerStream
    from app.services import Services
    from app.session import Session

log = logging.getLogger(__name__)

API_VERSION = "1"
RETRY_AFTER_SECONDS = 10
SOURCES_HEADING = "\n\nSources:\n"  # numbered sources at the end of a chat answer
# What a chat completion carries besides the message, in its `vigie` field.
VIGIE_FIELDS = ("question", "label", "quotes", "citations", "refused", "quotes_only", "timings")

ErrorCode = Literal[
    "invalid_json",
    "invalid_request",
    "body_too_large",
    "unauthorized",
    "forbidden",
    "not_found",
    "model_not_found",
    "method_not_allowed",
    "conflict",
    "rate_limited",
    "busy",
    "unavailable",
    "internal_error",
]


class ApiError(Exception):
    """An expected failure, answered as `{"error": {"code", "message"}}`."""

    def __init__(
        self, status: int, code: ErrorCode, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers


def _from_vigie(exc: VigieError) -> ApiError:
    """The session's expected errors, as HTTP: the same one line the CLI prints."""
    message = exc.one_line()
    if isinstance(exc, PermissionDenied):
        from vigie.users import AuthenticationError

        if isinstance(exc, AuthenticationError):
            return ApiError(401, "unauthorized", message)
        return ApiError(403, "forbidden", message)
    if isinstance(exc, NotFound):
        return ApiError(404, "not_found", message)
    if isinstance(exc, Conflict):
        return ApiError(409, "conflict", message)
    if isinstance(exc, Unavailable):
        return ApiError(503, "unavailable", message)
    return ApiError(400, "invalid_request", message)  # InputError, CorruptFile, any other


# -- request bodies: unknown fields are refused --------------------------------------


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SearchBody(_Body):
    query: str
    limit: int = Field(default=10, ge=1, le=100)
    mode: str | None = None


class AskBody(_Body):
    question: str
    conversation: str | None = None  # an id of the caller's, or "last": a follow-up
    stream: bool = False


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")  # clients add name, tool fields...

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):  # content parts: the text ones count
            return " ".join(str(p.get("text", "")) for p in self.content if p.get("type") == "text")
        return self.content or ""


class ChatBody(_Body):
    """OpenAI's chat completion request: the parameters clients send are accepted; those
    that do not apply to a grounded answer (sampling, penalties) are ignored."""

    model: str
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: dict[str, Any] | None = None
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    n: int | None = Field(default=None, ge=1, le=1)
    stop: str | list[str] | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    seed: int | None = None
    user: str | None = None


# -- sign-in failures, counted per address and per user ------------------------------


class FailureLimiter:
    """At most `limit` failed sign-ins a minute per key (an address, a user); a key past
    it is refused before its token is even checked, until its oldest failure is a
    minute old."""

    def __init__(
        self, limit: int, window: float = 60.0, clock: Callable[[], float] = time.monotonic
    ):
        self.limit, self.window, self._clock = limit, window, clock
        self._failures: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        failures = self._failures[key]
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        return failures

    def wait(self, *keys: str) -> int:
        """Seconds before any of `keys` may try again; 0 when none is blocked."""
        now = self._clock()
        with self._lock:
            waits = [
                self.window - (now - recent[0])
                for key in keys
                if len(recent := self._recent(key, now)) >= self.limit
            ]
        return int(max(waits) + 1) if waits else 0

    def failed(self, *keys: str) -> None:
        now = self._clock()
        with self._lock:
            for key in keys:
                self._recent(key, now).append(now)


class GenerationQueue:
    """The model answers one question at a time; `waiting` more may queue for it."""

    def __init__(self, waiting: int) -> None:
        self._places = threading.BoundedSemaphore(waiting + 1)

    def enter(self) -> None:
        if not self._places.acquire(blocking=False):
            raise ApiError(
                503, "busy", "the model is busy with other questions; try again shortly",
                {"Retry-After": str(RETRY_AFTER_SECONDS)},
            )  # fmt: skip

    def leave(self) -> None:
        self._places.release()


# -- the application -------------------------------------------------------------------


class VigieApi:
    """The routes over one `Services` (models loaded once, shared by every request; each
    request its own `Session`)."""

    def __init__(self, services: Services, loopback: bool = True) -> None:
        settings = services.settings
        self.services = services
        self.loopback = loopback  # the proxy's user header is honoured on loopback only
        self.limiter = FailureLimiter(settings.api_failures_per_minute)
        self.queue = GenerationQueue(settings.api_queue_size)
        self.model_id = Path(settings.resolved_llm_path).stem
        routes = [
            Route("/v1/health", self.health, methods=["GET"]),
            Route("/openapi.json", self.openapi, methods=["GET"]),
            Route("/v1/search", self.search, methods=["POST"]),
            Route("/v1/ask", self.ask, methods=["POST"]),
            Route("/v1/documents/{document_id}", self.document, methods=["GET"]),
            Route("/v1/conversations", self.conversations, methods=["GET"]),
            Route(
                "/v1/conversations/{conversation_id}",
                self.conversation,
                methods=["GET", "DELETE"],
            ),
            Route("/v1/models", self.models, methods=["GET"]),
            Route("/v1/chat/completions", self.chat_completions, methods=["POST"]),
        ]
        self.app = Starlette(
            routes=routes,
            exception_handlers={
                ApiError: self._api_error,
                HTTPException: self._http_error,
                Exception: self._bug,
            },
        )

    # -- boundaries --------------------------------------------------------------------

    @staticmethod
    def _error(status: int, code: str, message: str, headers: dict | None = None) -> JSONResponse:
        body = {"error": {"code": code, "message": message, "type": code}}
        return JSONResponse(body, status_code=status, headers=headers)

    async def _api_error(self, _request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return self._error(exc.status, exc.code, exc.message, exc.headers)

    async def _http_error(self, _request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 405:
            return self._error(405, "method_not_allowed", "method not allowed on this route")
        return self._error(404, "not_found", "no such route")

    async def _bug(self, request: Request, exc: Exception) -> Response:
        log.error("bug answering %s %s", request.method, request.url.path, exc_info=exc)
        return self._error(500, "internal_error", "internal error (logged on the server)")

    async def _call(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """A session use case, in a worker thread; its expected errors as HTTP errors."""
        try:
            return await run_in_threadpool(function, *args, **kwargs)
        except VigieError as exc:
            raise _from_vigie(exc) from None

    async def _body(self, request: Request, model: type[BaseModel]) -> Any:
        limit = self.services.settings.api_max_body_bytes
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise ApiError(413, "body_too_large", f"the body is over {limit} bytes")
        raw = bytearray()
        try:
            async for part in request.stream():
                raw += part
                if len(raw) > limit:
                    raise ApiError(413, "body_too_large", f"the body is over {limit} bytes")
        except ClientDisconnect:
            raise ApiError(400, "invalid_request", "the body was cut short") from None
        try:
            data = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise ApiError(400, "invalid_json", "the body is not valid JSON") from None
        if not isinstance(data, dict):
            raise ApiError(400, "invalid_json", "the body must be a JSON object")
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "body"
            message = "unknown field" if first["type"] == "extra_forbidden" else first["msg"]
            raise ApiError(400, "invalid_request", f"{where}: {message}") from None

    async def _session(self, request: Request) -> Session:
        """The caller's session: their API token, or the proxy's user header where set."""
        from app.session import token_owner, token_sign_in, trusted_sign_in

        address = f"address:{request.client.host if request.client else '?'}"
        header = request.headers.get("authorization", "")
        scheme, _, presented = header.partition(" ")
        proxy = self.services.settings.trusted_user_header
        if not header and proxy and self.loopback and request.headers.get(proxy):
            return await self._call(trusted_sign_in, self.services, request.headers[proxy])
        if scheme.lower() != "bearer" or not presented.strip():
            raise ApiError(401, "unauthorized", "send an API token: Authorization: Bearer ...",
                           {"WWW-Authenticate": "Bearer"})  # fmt: skip
        owner = await run_in_threadpool(token_owner, self.services, presented)
        keys = [address] + ([f"user:{owner}"] if owner else [])
        if wait := self.limiter.wait(*keys):
            raise ApiError(429, "rate_limited", "too many failed sign-ins; try again later",
                           {"Retry-After": str(wait)})  # fmt: skip
        try:
            return await self._call(token_sign_in, self.services, presented.strip())
        except ApiError:
            self.limiter.failed(*keys)
            raise ApiError(401, "unauthorized", "invalid, expired or revoked API token",
                           {"WWW-Authenticate": "Bearer"}) from None  # fmt: skip

    # -- routes ------------------------------------------------------------------------

    async def health(self, _request: Request) -> Response:
        return JSONResponse({"status": "ok", "api": API_VERSION})

    async def openapi(self, _request: Request) -> Response:
        return JSONResponse(openapi_description(self.model_id))

    async def search(self, request: Request) -> Response:
        from app.results import hit_row

        session = await self._session(request)
        body = await self._body(request, SearchBody)
        hits = await self._call(session.search, body.query, body.limit, mode=body.mode)
        rows = [hit_row(rank, hit) for rank, hit in enumerate(hits, start=1)]
        return JSONResponse({"query": body.query, "results": rows})

    async def document(self, request: Request) -> Response:
        """A document's passages the caller may read, in order, each with its place and
        level (`id` may be the document's id or its name)."""
        from app.results import table_field
        from app.session import references
        from vigie.contracts import place_fields

        session = await self._session(request)
        ref, chunks = await self._call(session.document, request.path_params["document_id"])
        await self._call(session.audit, "view_document", document_id=ref.document_id,
                         read=references(chunks))  # fmt: skip
        passages = [
            {"chunk_id": c.chunk_id, **place_fields(c.page, c.start, c.end), "where": c.place,
             "level": c.level.label, "caveats": list(c.caveats), "text": c.text,
             "table": table_field(c)}
            for c in sorted(chunks, key=lambda c: c.chunk_index)
        ]  # fmt: skip
        return JSONResponse({
            "id": ref.document_id, "name": ref.file_name,
            "level": max(c.level for c in chunks).label if chunks else None,
            "passages": passages,
        })  # fmt: skip

    async def conversations(self, request: Request) -> Response:
        session = await self._session(request)
        mine = await self._call(session.conversations)
        return JSONResponse({"conversations": [c.listed() for c in mine]})

    async def conversation(self, request: Request) -> Response:
        session = await self._session(request)
        conversation_id = request.path_params["conversation_id"]
        if request.method == "DELETE":
            gone = await self._call(session.delete_conversation, conversation_id)
            return JSONResponse({"deleted": gone.id, "turns": len(gone.turns)})
        found = await self._call(session.conversation, conversation_id)
        return JSONResponse(found.to_dict())

    async def models(self, request: Request) -> Response:
        await self._session(request)
        return JSONResponse({"object": "list", "data": [self._model_card()]})

    def _model_card(self) -> dict:
        return {"id": self.model_id, "object": "model", "created": 0, "owned_by": "vigie"}

    # -- answers -----------------------------------------------------------------------

    async def _answer(
        self, session: Session, question: str, **options: Any
    ) -> tuple[AnswerStream, AsyncIterator[str]]:
        """The answer's stream (quotes and sources ready) and its tokens, once the model
        is free; the queue place is held until the model has stopped."""
        self.queue.enter()
        try:
            stream = await self._call(session.ask, question, **options)
        except BaseException:
            self.queue.leave()
            raise
        return stream, _tokens(stream, self.queue.leave)

    async def ask(self, request: Request) -> Response:
        session = await self._session(request)
        body = await self._body(request, AskBody)
        stream, tokens = await self._answer(session, body.question, conversation=body.conversation)
        answer = stream.answer
        if not body.stream:
            async for _ in tokens:
                pass
            return JSONResponse(answer.to_dict() | {"conversation": session.conversation_id})

        async def events() -> AsyncIterator[str]:
            yield _event("quotes", {
                "question": answer.question, "conversation": session.conversation_id,
                "sources_label": answer.sources_label if answer.sources else "",
                "quotes": [q.to_dict() for q in answer.quotes],
            })  # fmt: skip
            async for token in tokens:
                yield _event("token", {"text": token})
            yield _event("done", answer.to_dict() | {"conversation": session.conversation_id})

        return StreamingResponse(events(), media_type="text/event-stream")

    async def chat_completions(self, request: Request) -> Response:
        session = await self._session(request)
        body = await self._body(request, ChatBody)
        if body.model not in (self.model_id, "vigie"):
            raise ApiError(404, "model_not_found", f"no model {body.model!r}: see /v1/models")
        question, history = _chat_turns(body.messages)
        stream, tokens = await self._answer(session, question, history=history)
        answer = stream.answer
        reply = ChatReply(self.model_id)
        if not body.stream:
            streamed = "".join([token async for token in tokens])
            return JSONResponse(reply.completion(answer, streamed))

        async def chunks() -> AsyncIterator[str]:
            yield _data(reply.chunk({"role": "assistant", "content": ""}))
            streamed = ""
            async for token in tokens:
                streamed += token
                yield _data(reply.chunk({"content": token}))
            yield _data(reply.chunk({"content": _ending(answer, streamed)}))
            yield _data(reply.chunk({}, finish="stop", extra=_vigie_fields(answer)))
            if (body.stream_options or {}).get("include_usage"):
                yield _data(reply.chunk(None, usage=_usage(answer, streamed)))
            yield "data: [DONE]\n\n"

        return StreamingResponse(chunks(), media_type="text/event-stream")


async def _tokens(stream: AnswerStream, done: Callable[[], None]) -> AsyncIterator[str]:
    """The answer's tokens, generated in a thread of their own so that the server stays
    free; when the reader goes away (the client disconnected: this generator is closed)
    the model stops after its current token. `done` is called once the model stopped."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[object] = asyncio.Queue()
    end = object()

    def hand_over(item: object) -> None:
        try:
            loop.call_soon_threadsafe(queue.put_nowait, item)
        except RuntimeError:  # the server's loop closed meanwhile
            stream.cancel()

    def generate() -> None:
        try:
            for token in stream:
                hand_over(token)
        except Exception as exc:  # noqa: BLE001 - handed to the request, which answers it
            hand_over(exc)
        finally:
            done()
            hand_over(end)

    threading.Thread(target=generate, name="vigie-answer", daemon=True).start()
    try:
        while (item := await queue.get()) is not end:
            if isinstance(item, Exception):
                raise item
            yield str(item)
    finally:
        stream.cancel()  # a no-op once the answer is complete


def _event(name: str, data: dict) -> str:
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def _data(data: dict) -> str:
    return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"


def _chat_turns(messages: list[ChatMessage]) -> tuple[str, list[tuple[str, str]]]:
    """The last user message as the question; the earlier user/assistant pairs as the
    conversation it follows (system messages are not obeyed: Vigie's own instructions
    keep answers to the archive)."""
    said = [(m.role, _without_sources(m.text())) for m in messages
            if m.role in ("user", "assistant")]  # fmt: skip
    if not said or said[-1][0] != "user" or not said[-1][1].strip():
        raise ApiError(400, "invalid_request", "messages: the last one must be the user's question")
    history: list[tuple[str, str]] = []
    for role, text in said[:-1]:
        if role == "user":
            history.append((text, ""))
        elif history:
            history[-1] = (history[-1][0], text)
    return said[-1][1], [(q, a) for q, a in history if q.strip()]


def _without_sources(text: str) -> str:
    """An earlier answer as the client sends it back, without the sources appended to it."""
    return text.split(SOURCES_HEADING, 1)[0]


def _sources_text(answer: Answer) -> str:
    """The numbered sources an OpenAI client shows at the end of the content."""
    cited = [c for c in answer.citations if c.cited] or answer.citations
    if not cited:
        return ""
    lines = [f"[{c.number}] {c.document}, {c.place} ({c.level.label})" for c in cited]
    return SOURCES_HEADING + "\n".join(lines)


def _ending(answer: Answer, streamed: str) -> str:
    """What a streaming client must still be sent once the model stopped: the checked
    answer when checking changed it (a refusal, the archive's own words), then the
    sources."""
    ending = ""
    if answer.text.strip() != streamed.strip():
        ending = "\n\n---\n" + answer.text if streamed.strip() else answer.text
    return ending + _sources_text(answer)


def _vigie_fields(answer: Answer) -> dict:
    data = answer.to_dict()
    return {"vigie": {key: data[key] for key in VIGIE_FIELDS}}


def _usage(answer: Answer, streamed: str) -> dict:
    completion = max(1, len(streamed.split())) if streamed else 0
    prompt = answer.prompt_tokens or 0
    return {"prompt_tokens": prompt, "completion_tokens": completion,
            "total_tokens": prompt + completion}  # fmt: skip


class ChatReply:
    """One chat completion's envelope, as OpenAI's clients read it."""

    def __init__(self, model: str) -> None:
        self.id = f"chatcmpl-{uuid.uuid4().hex}"
        self.created = int(time.time())
        self.model = model

    def _envelope(self, kind: str) -> dict:
        return {"id": self.id, "object": kind, "created": self.created, "model": self.model}

    def completion(self, answer: Answer, streamed: str) -> dict:
        content = answer.text + _sources_text(answer)
        return self._envelope("chat.completion") | {
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": content}}],
            "usage": _usage(answer, streamed),
        } | _vigie_fields(answer)  # fmt: skip

    def chunk(
        self, delta: dict | None, finish: str | None = None, extra: dict | None = None,
        usage: dict | None = None,
    ) -> dict:  # fmt: skip
        choices = [] if delta is None else [
            {"index": 0, "delta": delta, "finish_reason": finish}
        ]  # fmt: skip
        body = self._envelope("chat.completion.chunk") | {"choices": choices} | (extra or {})
        return body | ({"usage": usage} if usage is not None else {})


def openapi_description(model_id: str) -> dict:
    """A short OpenAPI 3.1 description of the routes, served as JSON (no viewer, no CDN)."""

    def route(summary: str, body: type[BaseModel] | None = None) -> dict:
        op: dict[str, Any] = {
            "summary": summary,
            "security": [{"bearer": []}],
            "responses": {"200": {"description": "OK"},
                          "4XX": {"description": '{"error": {"code", "message"}}'}},
        }  # fmt: skip
        if body is not None:
            op["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": body.model_json_schema()}},
            }
        return op

    return {
        "openapi": "3.1.0",
        "info": {"title": "Vigie", "version": API_VERSION,
                 "description": f"Grounded answers over the archive; answer model {model_id}."},
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "paths": {
            "/v1/health": {"get": {"summary": "The server runs", "responses": {
                "200": {"description": "OK"}}}},
            "/v1/search": {"post": route("Ranked passages the caller may read", SearchBody)},
            "/v1/ask": {"post": route(
                "A grounded answer; with stream, server-sent events quotes, token, done",
                AskBody)},
            "/v1/documents/{document_id}": {"get": route("A document's readable pages")},
            "/v1/conversations": {"get": route("The caller's conversations")},
            "/v1/conversations/{conversation_id}": {
                "get": route("A conversation, its sources re-checked now"),
                "delete": route("Delete a conversation for good"),
            },
            "/v1/models": {"get": route("OpenAI-compatible model list")},
            "/v1/chat/completions": {"post": route(
                "OpenAI-compatible chat completion (citations in `vigie`)", ChatBody)},
        },
    }  # fmt: skip


def serve(services: Services, host: str, port: int) -> None:
    """Run the API under uvicorn until stopped (Ctrl-C, SIGTERM)."""
    import ipaddress

    import uvicorn

    settings = services.settings
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    api = VigieApi(services, loopback=loopback)
    tls: dict[str, str] = {}
    if settings.api_tls_cert and settings.api_tls_key:
        tls = {"ssl_certfile": str(settings.api_tls_cert),
               "ssl_keyfile": str(settings.api_tls_key)}  # fmt: skip
    elif settings.api_tls_cert or settings.api_tls_key:
        raise InputError("HTTPS needs both api_tls_cert and api_tls_key")
    uvicorn.run(api.app, host=host, port=port, log_level="warning", access_log=False,
                server_header=False, **tls)  # type: ignore[arg-type]  # fmt: skip
