"""The analysts' pages: rule health and the rule playground."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool

from ..errors import InputError, Location
from . import playground as pg
from .db import reading
from .rulehealth import add_exclusion, add_miss_example, rule_health, suggested_misses
from .security import require_csrf
from .state import AppState
from .views import render, templates

MAX_RULE_YAML = 200_000


def routes(state: AppState) -> APIRouter:
    r = APIRouter(include_in_schema=False)
    ws = state.workspace

    def done_scans() -> list[dict]:
        with reading(ws.db) as con:
            return [
                dict(x)
                for x in con.execute("SELECT id, name, input_path FROM scans WHERE status = 'done' ORDER BY id DESC")
            ]

    @r.get("/rules/health")
    def health_page(request: Request, scan: int | None = None):
        scans = done_scans()
        scan_id = scan if scan is not None else (scans[0]["id"] if scans else None)
        rows = rule_health(ws, state.rules.current.ruleset, scan_id)
        shown = [h for h in rows if h.leads or h.confirmed or h.dismissed]
        return render(
            request, "health.html", nav="health", rows=shown, scans=scans, scan_id=scan_id, total_rules=len(rows)
        )

    @r.post("/rules/suggest", dependencies=[Depends(require_csrf)])
    async def suggest(
        kind: Annotated[str, Form()],
        rule_id: Annotated[str, Form()],
        text: Annotated[str, Form()],
        source: Annotated[str, Form()] = "",
    ):
        if rule_id not in state.rules.current.ruleset.rule_index:
            raise InputError(f"no rule {rule_id!r} in the rules in force", Location("suggest", rule_id=rule_id))
        if kind == "exclude":
            await run_in_threadpool(add_exclusion, ws, state.rules, rule_id, text)
            state.metrics.generation.set(state.rules.current.generation)
        elif kind == "miss":
            add_miss_example(ws, rule_id, text.strip(), source)
        else:
            raise HTTPException(400, "kind must be exclude or miss")
        return RedirectResponse(f"/rules/health?saved={kind}&rule={rule_id}", 303)

    @r.get("/rules/playground")
    def playground_page(request: Request, rule: str = ""):
        rs = state.rules.current.ruleset
        packs = [(p.category, [x.id for x in p.rules]) for p in rs.packset.packs]
        rule = rule or (packs[0][1][0] if packs and packs[0][1] else "")
        src = pg.rule_source(rs, rule) if rule else None
        corpora = ws.input_files()
        return render(
            request,
            "playground.html",
            nav="playground",
            packs=packs,
            rule_id=rule,
            source=src,
            corpora=corpora,
            misses=suggested_misses(ws).get(rule, []),
        )

    def _edited(body: dict):
        rule_id, text = str(body.get("rule_id", "")), body.get("yaml")
        if not isinstance(text, str) or len(text) > MAX_RULE_YAML:
            raise InputError("yaml must be the rule's text", Location("playground", column="yaml"))
        rs = state.rules.current.ruleset
        src = pg.rule_source(rs, rule_id)
        return rs, src, pg.compile_rule(rs, src, text)

    @r.post("/rules/playground/check", dependencies=[Depends(require_csrf)])
    async def check(request: Request):
        body = await request.json()
        if not isinstance(body, dict):
            raise InputError("expected a JSON object", Location("playground"))

        def work():
            _rs, src, checked = _edited(body)
            misses = [m["title"] for m in suggested_misses(ws).get(src.rule_id, []) if m.get("title")]
            examples = pg.examples(checked.ruleset, src.rule_id, misses) if checked.ok else []
            return {"ok": checked.ok, "errors": checked.errors, "examples": examples}

        return await run_in_threadpool(work)

    @r.post("/rules/playground/compare", dependencies=[Depends(require_csrf)])
    async def compare(request: Request):
        body = await request.json()
        if not isinstance(body, dict):
            raise InputError("expected a JSON object", Location("playground"))
        corpus = str(body.get("corpus", ""))
        if corpus not in ws.input_files():
            raise InputError("pick an export from the workspace's inputs/ folder", Location(corpus or "corpus"))

        def work():
            rs, src, checked = _edited(body)
            if not checked.ok:
                raise InputError("fix the rule's errors first", Location("playground", rule_id=src.rule_id))
            saved = pg.compile_rule(rs, src, src.text)
            table = pg.load_corpus(ws.inside(corpus))
            return pg.compare(saved.ruleset, checked.ruleset, src.rule_id, table)

        cmp = await run_in_threadpool(work)
        html = templates.get_template("_diff.html").render(cmp=cmp)
        return {"html": html, "gained": cmp.n_gained, "lost": cmp.n_lost, "both": cmp.both, "rows": cmp.rows}

    return r
