"""``POST /api/v1/screen`` for well-formed requests, answered below FastAPI's router.

Platforms call the screening API once per listing as it is published, so a request's
fixed cost is its latency. FastAPI's exception, exit-stack, routing and body-parameter
layers cost a single listing's request about as much as the scan's structural checks;
this middleware (inside ``Guard``: the token, body limit and metrics still apply) answers
a JSON body that pydantic validates in one pass from bytes, and hands everything else —
another path or method, another content type, any body that does not validate — to the
FastAPI route with the body replayed. Errors therefore stay exactly the route's, and the
route, which documents the endpoint in the OpenAPI document, answers them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import HTTPException
from pydantic import TypeAdapter, ValidationError

from ..errors import ScreenerError
from . import models as m
from .api_routes import screened_json
from .app import ERROR_CODES, error_json  # the app's own error bodies (it imports this module only in create_app)
from .state import AppState

SCREEN_PATH = "/api/v1/screen"

Receive = Callable[[], Awaitable[dict[str, Any]]]


class ScreenFastPath:
    def __init__(self, app, state: AppState):
        self.app = app
        self.state = state
        # the route's own model: the same limits, the same answer for what validates
        self.request = TypeAdapter(m.screen_request(state.config.max_listings))

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != SCREEN_PATH:
            return await self.app(scope, receive, send)
        body = await _body(receive)
        if body is None:  # the client went away
            return None
        listings = self._listings(scope, body)
        if listings is None:
            return await self.app(scope, _replay(body, receive), send)
        try:
            payload = await screened_json(self.state, listings)
        except HTTPException as exc:
            answer = error_json(exc.status_code, ERROR_CODES.get(exc.status_code, "error"), exc.detail)
            return await answer(scope, receive, send)
        except ScreenerError as exc:  # as the app's handler answers it on the route
            field = exc.location.column if exc.location else None
            return await error_json(422, "invalid", str(exc), field)(scope, receive, send)
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-length", str(len(payload)).encode()), (b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": payload})
        return None

    def _listings(self, scope, body: bytes) -> list[dict] | None:
        """The request's listings when the body is JSON that validates; None hands it to the route."""
        if not _is_json(scope):
            return None
        try:
            req = self.request.validate_json(body)
        except ValidationError:
            return None
        return req.model_dump(exclude_none=True)["listings"]


def _is_json(scope) -> bool:
    """The content type FastAPI reads a body parameter as JSON from (application/json, …+json)."""
    for name, value in scope["headers"]:
        if name == b"content-type":
            kind = value.split(b";", 1)[0].strip().lower()
            return kind == b"application/json" or (kind.startswith(b"application/") and kind.endswith(b"+json"))
    return False


async def _body(receive: Receive) -> bytes | None:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that gives the body already read, then whatever the connection says next."""
    pending = True

    async def replay() -> dict[str, Any]:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
