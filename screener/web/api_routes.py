"""The screening API: ``/api/v1/screen``, ``/api/v1/rules``, reload, ``/healthz``, ``/metrics``."""

# No `from __future__ import annotations`: FastAPI reads the request model from the
# annotation of a function defined inside router(), which a string would hide.
import asyncio
import json
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeAlias

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from starlette.concurrency import run_in_threadpool

from .._version import __version__
from ..errors import RuleErrors, ScreenerError
from . import models as m
from .screening import screen_listings
from .security import require_admin
from .state import AppState

#: Where a server process runs its scans, one at a time, in arrival order.
SCAN_THREAD = ThreadPoolExecutor(max_workers=1, thread_name_prefix="screener-scan")

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": m.ErrorResponse, "description": "a body that cannot be read as text (not UTF-8)"},
    401: {"model": m.ErrorResponse, "description": "no or wrong token"},
    413: {"model": m.ErrorResponse, "description": "body or listing count over the limit"},
    422: {"model": m.ErrorResponse, "description": "bad JSON or a field of the wrong type (named in `field`)"},
}


async def screened_json(state: AppState, listings: list[dict]) -> bytes:
    """The body of a screening answer for validated listings (HTTPException 504 over the time limit)."""
    loaded = state.rules.current  # this request's rules, whatever a reload does meanwhile
    timeout = state.config.request_timeout
    try:
        # one thread of our own: scans take turns anyway (ENGINE_LOCK), and anyio's thread
        # pool costs a single listing's request more than its hand-off is worth
        job = asyncio.get_running_loop().run_in_executor(SCAN_THREAD, screen_listings, listings, loaded.ruleset)
        results = await asyncio.wait_for(job, timeout=timeout)
    except asyncio.TimeoutError:
        raise HTTPException(504, f"screening took over {timeout:g} s: send fewer listings") from None
    state.metrics.screened(results)
    # written here, not by FastAPI from response_model (which still documents it): validating
    # and re-encoding every hit cost a batch request more than a third of its scan
    body = {"results": results, "rules_hash": loaded.hash, "engine_version": __version__}
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def router(state: AppState) -> APIRouter:
    r = APIRouter()
    cfg = state.config
    if TYPE_CHECKING:
        Request_: TypeAlias = m.ScreenRequest
    else:  # the same model with this server's listing limit in it
        Request_ = m.screen_request(cfg.max_listings)

    @r.post(
        "/api/v1/screen",
        response_model=m.ScreenResponse,
        responses={**ERRORS, 504: {"model": m.ErrorResponse, "description": "over the time limit"}},
        tags=["screening"],
    )
    async def screen(body: Request_) -> Response:
        """Screen listings (canonical column names) with the rules in force; results in request order.

        At most the server's ``--max-listings`` per request (stated in this document's schema)."""
        listings = body.model_dump(exclude_none=True)["listings"]
        return Response(await screened_json(state, listings), media_type="application/json")

    @r.get("/api/v1/rules", response_model=m.RulesResponse, responses={401: ERRORS[401]}, tags=["rules"])
    def rules() -> dict:
        """The rule set in force: its hash, each pack's version and hash, the overrides applied."""
        cur = state.rules.current
        return {
            **cur.info,
            "generation": cur.generation,
            "loaded_at": cur.loaded_at,
            "engine_version": __version__,
            "last_reload_error": state.rules.last_error,
        }

    @r.post(
        "/api/v1/rules/reload",
        response_model=m.ReloadResponse,
        responses={
            **ERRORS,
            422: {"model": m.ErrorResponse, "description": "the rule files do not load; old set kept"},
        },
        dependencies=[Depends(require_admin(cfg))],
        tags=["rules"],
    )
    async def reload() -> dict:
        """Compile the rule files again and swap them in atomically (requests in flight finish on the old set)."""
        before = state.rules.current
        try:
            new = await run_in_threadpool(state.rules.reload)
        except (RuleErrors, ScreenerError) as exc:
            state.metrics.reload_failures.inc()
            raise HTTPException(422, f"rules not reloaded, the previous set keeps serving: {exc}") from None
        state.metrics.generation.set(new.generation)
        return {"reloaded": True, "hash": new.hash, "generation": new.generation, "previous_hash": before.hash}

    @r.get("/healthz", response_model=m.Health, tags=["service"])
    def healthz() -> dict:
        cur = state.rules.current
        return {"status": "ok", "rules_hash": cur.hash, "generation": cur.generation}

    @r.get("/metrics", response_class=Response, tags=["service"])
    def metrics(request: Request) -> Response:
        """Prometheus text: requests, latency histogram, listings screened, hits per category."""
        state.metrics.generation.set(state.rules.current.generation)
        return Response(state.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    return r
