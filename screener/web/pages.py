"""The workbench pages (server-rendered with Jinja2; a little plain JS in static/app.js)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, FastAPI, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from ..errors import InputError, Location
from ..io.columns import parse_map_options
from . import analyst
from .db import reading
from .decisions import LeadKey, decide, history
from .exports import export_report
from .leads import LeadFilter, facets, get_lead, lead_ids, neighbours, query_leads, review_counts
from .scans import ScanJobs
from .security import require_csrf
from .state import AppState
from .views import render

_HERE = resources.files(__package__)
COPY_CHUNK = 1024 * 1024


def _scan_row(state: AppState, scan_id: int) -> dict:
    with reading(state.workspace.db) as con:
        row = con.execute("SELECT * FROM scans WHERE id = ?", (scan_id,)).fetchone()
    if row is None:
        raise HTTPException(404, f"no scan {scan_id}")
    return dict(row)


def _done_scan(state: AppState, scan_id: int) -> dict:
    row = _scan_row(state, scan_id)
    if row["status"] != "done":
        raise HTTPException(409, f"scan {scan_id} is {row['status']}, not finished")
    return row


def _mapping(text: str) -> dict[str, str]:
    items = [x.strip() for x in text.replace("，", ",").replace("\n", ",").split(",") if x.strip()]
    return parse_map_options(items)


def mount(app: FastAPI, state: AppState) -> None:
    jobs = state.jobs = ScanJobs(state.workspace, state.rules, state.config.scan_workers)
    app.mount("/static", StaticFiles(directory=str(_HERE / "static")), name="static")
    app.include_router(investigator_routes(state, jobs))
    app.include_router(analyst.routes(state))


def investigator_routes(state: AppState, jobs: ScanJobs) -> APIRouter:
    r = APIRouter(include_in_schema=False)
    ws, cfg = state.workspace, state.config

    @r.get("/")
    def home():
        return RedirectResponse("/scans", 303)

    @r.get("/scans")
    def scans_page(request: Request):
        with reading(ws.db) as con:
            rows = [dict(x) for x in con.execute("SELECT * FROM scans ORDER BY id DESC").fetchall()]
        for row in rows:
            p = jobs.progress.get(row["id"])
            row["progress"] = p.as_dict() if p else None
        return render(
            request,
            "scans.html",
            scans=rows,
            inputs=ws.input_files(),
            max_upload_mb=cfg.max_upload_bytes // (1024 * 1024),
            rules=state.rules.current,
        )

    @r.post("/scans/upload", dependencies=[Depends(require_csrf)])
    async def upload(file: Annotated[UploadFile, File()], mapping: Annotated[str, Form()] = ""):
        maps = _mapping(mapping)
        dest = ws.reserve_input(file.filename or "upload")
        written = 0
        try:
            with dest.open("wb") as out:
                while chunk := await file.read(COPY_CHUNK):
                    written += len(chunk)
                    if written > cfg.max_upload_bytes:
                        raise HTTPException(413, f"upload over the limit of {cfg.max_upload_bytes:,} bytes")
                    out.write(chunk)
        except BaseException:
            dest.unlink(missing_ok=True)
            raise
        jobs.submit(ws.relative(dest), Path(file.filename or dest.name).name, maps)
        return RedirectResponse("/scans", 303)

    @r.post("/scans/start", dependencies=[Depends(require_csrf)])
    def start(input: Annotated[str, Form()], mapping: Annotated[str, Form()] = ""):
        if input not in ws.input_files():
            raise InputError("not an export in the workspace's inputs/ folder", Location(input))
        jobs.submit(input, Path(input).name, _mapping(mapping))
        return RedirectResponse("/scans", 303)

    @r.get("/scans/{scan_id}/progress")
    def progress(scan_id: int):
        row = _scan_row(state, scan_id)
        p = jobs.progress.get(scan_id)
        return {"status": row["status"], "error": row["error"], **(p.as_dict() if p else {})}

    @r.get("/scans/{scan_id}")
    def scan_home(scan_id: int):
        return RedirectResponse(f"/scans/{scan_id}/leads", 303)

    @r.get("/scans/{scan_id}/leads")
    def leads_page(request: Request, scan_id: int, page: int = 1):
        scan = _done_scan(state, scan_id)
        flt = LeadFilter.from_query(request.query_params)
        result = query_leads(ws.db, scan_id, flt, page, cfg.leads_per_page)
        return render(
            request,
            "leads.html",
            scan=scan,
            flt=flt,
            query=flt.query(),
            qs=urlencode(flt.query()),
            result=result,
            facets=facets(ws.db, scan_id),
            counts=review_counts(ws.db, scan_id),
        )

    @r.get("/scans/{scan_id}/leads/{row_id}")
    def lead_page(request: Request, scan_id: int, row_id: int):
        scan = _done_scan(state, scan_id)
        lead = get_lead(ws.db, scan_id, row_id)
        if lead is None:
            raise HTTPException(404, f"no lead {row_id} in scan {scan_id}")
        flt = LeadFilter.from_query(request.query_params)
        prev_id, next_id = neighbours(ws.db, scan_id, row_id, flt)
        packset = state.rules.current.ruleset.packset
        rules = {r.id: r for r in packset.rules}
        packs = {p.category: p for p in packset.packs}  # a rule without its own legal basis has its pack's
        return render(
            request,
            "lead.html",
            scan=scan,
            lead=lead,
            qs=urlencode(flt.query()),
            prev_id=prev_id,
            next_id=next_id,
            rules=rules,
            packs=packs,
            history=history(ws.db, lead["platform"], lead["item_id"]),
            structural=[h for h in lead["hits"] if h.get("start") is None],
        )

    @r.post("/scans/{scan_id}/leads/{row_id}/decision", dependencies=[Depends(require_csrf)])
    async def decision(request: Request, scan_id: int, row_id: int):
        _done_scan(state, scan_id)
        if request.headers.get("content-type", "").startswith("application/json"):
            data = await request.json()
            if not isinstance(data, dict):
                raise InputError("expected a JSON object", Location("decision"))
        else:
            data = dict(await request.form())
        seen = str(data.get("seen_version", "")).strip()
        out = await run_in_threadpool(
            decide,
            ws.db,
            [LeadKey(scan_id, row_id)],
            str(data.get("state", "")),
            note=str(data.get("note", "")),
            reviewer=str(data.get("reviewer", "")),
            seen_version=int(seen) if seen.isdigit() else None,
        )
        lead = get_lead(ws.db, scan_id, row_id)
        if "application/json" in request.headers.get("accept", ""):
            return JSONResponse(
                {
                    "review": lead["review"] if lead else None,
                    "version": lead["decision_version"] if lead else 0,
                    "replaced_unseen": out.replaced_unseen,
                }
            )
        flt = LeadFilter.from_query(request.query_params)
        qs = urlencode(flt.query())
        if out.replaced_unseen:  # stay: show the reviewer whose decision this one replaced
            return RedirectResponse(f"/scans/{scan_id}/leads/{row_id}?{qs}&conflict=1", 303)
        _, next_id = neighbours(ws.db, scan_id, row_id, flt)
        target = next_id if next_id is not None else row_id
        return RedirectResponse(f"/scans/{scan_id}/leads/{target}?{qs}", 303)

    @r.post("/scans/{scan_id}/bulk", dependencies=[Depends(require_csrf)])
    async def bulk(request: Request, scan_id: int):
        _done_scan(state, scan_id)
        form = await request.form()
        flt = LeadFilter.from_query(form)
        if not any(flt.query().get(k) for k in ("shop", "rule", "category", "platform", "q", "department", "severity")):
            raise InputError("a bulk action needs a filter (a shop, a rule …), not the whole scan", Location("bulk"))
        ids = lead_ids(ws.db, scan_id, flt)
        await run_in_threadpool(
            decide,
            ws.db,
            [LeadKey(scan_id, i) for i in ids],
            str(form.get("state", "")),
            note=str(form.get("note", "")),
            reviewer=str(form.get("reviewer", "")),
        )
        return RedirectResponse(f"/scans/{scan_id}/leads?{urlencode(flt.query())}&done={len(ids)}", 303)

    @r.post("/scans/{scan_id}/export", dependencies=[Depends(require_csrf)])
    async def export(scan_id: int):
        _done_scan(state, scan_id)
        await run_in_threadpool(export_report, ws, scan_id)
        return RedirectResponse(f"/scans/{scan_id}/leads?exported=1", 303)

    @r.get("/scans/{scan_id}/report.{fmt}")
    def report_file(scan_id: int, fmt: str):
        _done_scan(state, scan_id)
        if fmt not in ("xlsx", "html"):
            raise HTTPException(404, "no such report")
        path = ws.scan_dir(scan_id) / f"report.{fmt}"
        if not path.is_file():
            raise HTTPException(404, "no report yet: export it from the scan's leads page")
        media = "text/html; charset=utf-8" if fmt == "html" else None
        # the report holds listing text: no script may run in it whatever it contains
        headers = {"Content-Security-Policy": "script-src 'none'; object-src 'none'"}
        return FileResponse(path, media_type=media, filename=f"scan-{scan_id}-report.{fmt}", headers=headers)

    return r
