"""The ASGI app of ``screener serve``: the workbench pages and the screening API in one FastAPI app.

>>> from screener.web import ServeConfig, create_app
>>> app = create_app(ServeConfig(workspace="ws"))      # run it with any ASGI server
"""

from __future__ import annotations

import inspect
import json
import os
import threading
from collections.abc import Mapping
from contextlib import asynccontextmanager
from dataclasses import asdict
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from .._version import __version__
from ..errors import ScreenerError
from . import api_routes
from .config import ServeConfig
from .state import AppState

#: Environment variable carrying the config to worker processes (``--workers N``).
CONFIG_ENV = "SCREENER_SERVE_CONFIG"
ERROR_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    422: "invalid",
    504: "timeout",
}


def _field(loc) -> str:
    return ".".join(str(x) for x in loc if x not in ("body",)) or "body"


def _validation_message(err: dict) -> tuple[str, str, str]:
    """(code, message, field) of the first validation error, in words an API caller can act on."""
    kind = err.get("type", "")
    field = _field(err.get("loc", ()))
    if kind == "json_invalid":
        ctx = err.get("ctx") or {}
        return "bad_json", f"the body is not valid JSON: {ctx.get('error', 'parse error')}", "body"
    if kind == "missing":
        return "missing_field", f"{field}: required field missing", field
    if kind == "extra_forbidden":
        return "unknown_field", f"{field}: unknown field (use canonical column names)", field
    return "invalid_field", f"{field}: {err.get('msg', 'invalid value')}", field


def error_json(
    status: int, code: str, message: str, field: str | None = None, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    body = {"error": {"code": code, "message": message, "field": field}}
    return JSONResponse(body, status_code=status, headers=headers)


def create_app(config: ServeConfig, state: AppState | None = None, *, fast_screen: bool = True) -> FastAPI:
    """The app for ``config`` (opens the workspace and loads the rules now).

    ``fast_screen=False`` leaves every screening request to the FastAPI route (the tests
    compare the two: same answers)."""
    state = state or AppState.start(config)
    stop = threading.Event()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if config.watch > 0:
            state.rules.watch(config.watch, stop)
        if state.jobs is not None:
            state.jobs.start()
        try:
            yield
        finally:
            stop.set()
            if state.jobs is not None:
                state.jobs.stop()

    app = FastAPI(
        title="screener",
        version=__version__,
        description="Screen marketplace listings for violations with the YAML rule packs (网剑行动).",
        lifespan=lifespan,
        docs_url="/api/docs",
        redoc_url=None,
        **_telemetry_off(),
    )
    app.state.screener = state

    @app.exception_handler(RequestValidationError)
    async def on_validation(request: Request, exc: RequestValidationError):
        errors = exc.errors()
        code, message, field = _validation_message(errors[0]) if errors else ("invalid", "invalid request", None)
        if len(errors) > 1:
            message += f" (and {len(errors) - 1} more)"
        if request.url.path.startswith("/api/") or not _wants_html(request):
            return error_json(422, code, message, field)
        return _html_error(request, 422, message)

    @app.exception_handler(HTTPException)
    async def on_http(request: Request, exc: HTTPException):
        message = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail, ensure_ascii=False)
        if request.url.path.startswith("/api/") or not _wants_html(request):
            return error_json(exc.status_code, ERROR_CODES.get(exc.status_code, "error"), message, headers=exc.headers)
        return _html_error(request, exc.status_code, message)

    @app.exception_handler(ScreenerError)
    async def on_screener(request: Request, exc: ScreenerError):
        if request.url.path.startswith("/api/") or not _wants_html(request):
            return error_json(422, "invalid", str(exc), exc.location.column if exc.location else None)
        return _html_error(request, 422, str(exc))

    app.include_router(api_routes.router(state))
    if not config.api_only:
        from . import pages

        pages.mount(app, state)
    from .fastscreen import ScreenFastPath
    from .security import Guard

    if fast_screen:
        app.add_middleware(ScreenFastPath, state=state)  # added first: runs inside Guard
    app.add_middleware(Guard, config=config, metrics=state.metrics)
    return app


def _telemetry_off() -> dict:
    """FastAPI ≥ 0.16x traces every request with OpenTelemetry unless told not to: with no
    exporter configured that is pure cost (a third of a single listing's request). It stays
    on when the operator asks for exporters (FASTAPI_OTEL_AUTO_CONFIGURE=true); the service's
    own numbers are at /metrics."""
    if "telemetry" not in inspect.signature(FastAPI).parameters:
        return {}
    if os.getenv("FASTAPI_OTEL_AUTO_CONFIGURE", "").lower() == "true":
        return {}
    return {"telemetry": {"tracing": False, "metrics": False, "logs": False, "operation_spans": False}}


def _wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


def _html_error(request: Request, status: int, message: str):
    from .views import render_error

    return render_error(request, status, message)


def config_to_env(config: ServeConfig) -> str:
    d = asdict(config)
    d["workspace"] = str(config.workspace)
    return json.dumps(d)


def app_from_env() -> FastAPI:
    """The app factory for worker processes: the config comes in :data:`CONFIG_ENV`."""
    d = json.loads(os.environ[CONFIG_ENV])
    d["workspace"] = Path(d["workspace"])
    d["rules"], d["overrides"] = tuple(d["rules"]), tuple(d["overrides"])
    return create_app(ServeConfig(**d))
