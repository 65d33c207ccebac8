"""Who may call the server and how much they may send: the token, CSRF, body size limits.

* **Token**: when the server needs one (:attr:`ServeConfig.token_required`), every
  request carries it as ``Authorization: Bearer …``, the ``screener_token`` cookie, or
  once as ``?token=…`` (which sets the cookie, so a browser needs it only in the
  first URL). Reloading the rules always needs the Bearer token.
* **CSRF**: every form and every script's POST carries the value of the
  ``screener_csrf`` cookie (double submit; the cookie is SameSite=Strict).
* **Size**: a request body over the limit is refused with 413 as soon as it is
  known to be too large (from Content-Length, or while it streams in).
"""

from __future__ import annotations

import contextlib
import json
import secrets
import time
from collections.abc import Callable
from http.cookies import SimpleCookie
from urllib.parse import parse_qs, urlencode

from fastapi import HTTPException, Request

from .config import ServeConfig
from .metrics import Metrics

TOKEN_COOKIE = "screener_token"
CSRF_COOKIE = "screener_csrf"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
UPLOAD_PATHS = ("/scans/upload",)
#: Paths counted under their own name in the metrics; anything else is "page", "static" or "other".
API_PATHS = ("/api/v1/screen", "/api/v1/rules", "/api/v1/rules/reload", "/healthz", "/metrics", "/openapi.json")


class TooLarge(Exception):
    pass


def bearer(headers: dict[bytes, bytes] | None = None, request: Request | None = None) -> str | None:
    value = (
        request.headers.get("authorization", "")
        if request is not None
        else (headers or {}).get(b"authorization", b"").decode("latin-1")
    )
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def same_secret(given: str | None, expected: str | None) -> bool:
    if not given or not expected:
        return False
    return secrets.compare_digest(given.encode(), expected.encode())


def metric_path(path: str) -> str:
    if path in API_PATHS:
        return path
    if path.startswith("/static/"):
        return "static"
    if path.startswith("/api/"):
        return "other"
    return "page"


class Guard:
    """ASGI middleware: token check, body size limit and request metrics (pure ASGI: no extra latency)."""

    def __init__(self, app, config: ServeConfig, metrics: Metrics):
        self.app = app
        self.config = config
        self.metrics = metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        t0 = time.perf_counter()
        path = scope["path"]
        status = {"code": 500}

        async def send_wrapper(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            if self.config.token_required and not self._authorized(scope):
                if self._token_in_query(scope):
                    return await self._set_token_cookie(scope, send_wrapper)
                return await _json(
                    send_wrapper, 401, "unauthorized", "this server needs its token: Authorization: Bearer <token>"
                )
            limit = self.config.max_upload_bytes if path in UPLOAD_PATHS else self.config.max_body_bytes
            headers = dict(scope["headers"])
            length = headers.get(b"content-length")
            if length is not None and length.isdigit() and int(length) > limit:
                return await _json(send_wrapper, 413, "too_large", f"request body over the limit of {limit:,} bytes")
            received = 0
            over = {"limit": False, "started": False}

            async def limited_receive():
                nonlocal received
                message = await receive()
                if message["type"] == "http.request":
                    received += len(message.get("body", b""))
                    if received > limit:
                        over["limit"] = True
                        raise TooLarge()
                return message

            async def tracking_send(message):
                if over["limit"]:
                    # the app answered a body it could not finish reading (FastAPI says 400): say why instead
                    if message["type"] == "http.response.start" and not over["started"]:
                        over["started"] = True
                        await _json(send_wrapper, 413, "too_large", f"request body over the limit of {limit:,} bytes")
                    return
                if message["type"] == "http.response.start":
                    over["started"] = True
                await send_wrapper(message)

            with contextlib.suppress(TooLarge):
                await self.app(scope, limited_receive, tracking_send)
            if over["limit"] and not over["started"]:
                await _json(send_wrapper, 413, "too_large", f"request body over the limit of {limit:,} bytes")
        finally:
            self.metrics.observe(metric_path(path), scope.get("method", ""), status["code"], time.perf_counter() - t0)

    def _authorized(self, scope) -> bool:
        headers = dict(scope["headers"])
        if same_secret(bearer(headers), self.config.token):
            return True
        cookie = SimpleCookie()
        try:
            cookie.load(headers.get(b"cookie", b"").decode("latin-1"))
        except Exception:  # a malformed cookie header is no token
            return False
        morsel = cookie.get(TOKEN_COOKIE)
        return morsel is not None and same_secret(morsel.value, self.config.token)

    def _token_in_query(self, scope) -> bool:
        q = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        return scope.get("method") == "GET" and same_secret((q.get("token") or [None])[0], self.config.token)

    async def _set_token_cookie(self, scope, send) -> None:
        q = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        q.pop("token", None)
        location = scope["path"] + ("?" + urlencode(q, doseq=True) if q else "")
        cookie = f"{TOKEN_COOKIE}={self.config.token}; Path=/; HttpOnly; SameSite=Strict"
        await send(
            {
                "type": "http.response.start",
                "status": 303,
                "headers": [
                    (b"location", location.encode()),
                    (b"set-cookie", cookie.encode()),
                    (b"content-length", b"0"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": b""})


async def _json(send, status: int, code: str, message: str) -> None:
    body = json.dumps({"error": {"code": code, "message": message, "field": None}}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


def require_admin(config: ServeConfig) -> Callable[[Request], None]:
    """A dependency: the request carries the server's token as a Bearer token."""

    def check(request: Request) -> None:
        if not same_secret(bearer(request=request), config.token):
            raise HTTPException(401, "reloading the rules needs the server's token: Authorization: Bearer <token>")

    return check


def csrf_value(request: Request) -> str:
    """The CSRF value of this browser (from its cookie, or a new one the response sets)."""
    value = request.cookies.get(CSRF_COOKIE)
    if not value or len(value) < 16:
        value = getattr(request.state, "new_csrf", None) or secrets.token_urlsafe(24)
        request.state.new_csrf = value
    return value


async def require_csrf(request: Request) -> None:
    """A dependency for every state-changing page route: the form field or header equals the cookie."""
    expected = request.cookies.get(CSRF_COOKIE)
    given = request.headers.get(CSRF_HEADER)
    if given is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        given = value if isinstance(value, str) else None
    if not same_secret(given, expected):
        raise HTTPException(403, "missing or wrong CSRF token: reload the page and try again")
