"""The workbench without a browser: scans, leads, decisions carried across scans, exports, rule tools, security."""

from __future__ import annotations

import re
import threading

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from webutil import EXTRA, app_for, write_export

from screener.web.decisions import LeadKey, decide, history
from screener.web.leads import get_lead


def _upload(c, path, mapping=""):
    csrf = c.cookies.get("screener_csrf")
    with path.open("rb") as f:
        r = c.post("/scans/upload", data={"csrf": csrf, "mapping": mapping}, files={"file": (path.name, f, "text/csv")})
    assert r.status_code == 200, r.text
    c.app.state.screener.jobs.wait_idle(120)
    ids = [int(x) for x in re.findall(r'data-scan="(\d+)"', c.get("/scans").text)]
    return max(ids)


def _rows(html):
    return [int(x) for x in re.findall(r'<tr class="lead"[^>]*data-row="(\d+)"', html)]


@pytest.fixture(scope="module")
def wb(tmp_path_factory):
    """(client, export path, first scan id) on a workspace with one finished scan."""
    tmp = tmp_path_factory.mktemp("wb")
    app = app_for(tmp / "ws")
    export = write_export(tmp / "export.csv", EXTRA)
    with TestClient(app) as c:
        c.get("/scans")  # the CSRF cookie
        scan = _upload(c, export)
        yield c, export, scan


def test_scan_lists_leads_with_hits_escaped_and_highlighted(wb):
    c, _, scan = wb
    progress = c.get(f"/scans/{scan}/progress").json()
    assert progress["status"] == "done" and progress["percent"] == 100.0
    page = c.get(f"/scans/{scan}/leads").text
    assert len(_rows(page)) == 22  # 21 flagged sample listings + the <script> one (象牙手镯)
    assert "<script>window.__xss" not in page and "&lt;script&gt;window.__xss = 1&lt;/script&gt;" in page
    assert 'onerror="window' not in page
    assert re.search(r'<mark class="hit" data-rules="WL001"[^>]*>象牙</mark>', page)
    lead = c.get(f"/scans/{scan}/leads?q=XSS1").text
    row = _rows(lead)[0]
    detail = c.get(f"/scans/{scan}/leads/{row}").text
    assert "&lt;img src=x onerror=" in detail and "<img src=x" not in detail
    assert "《野生动物保护法》" in detail  # the rule's legal basis
    assert "Content-Security-Policy" in c.get(f"/scans/{scan}/leads/{row}").headers
    # the words that supported a hit (老料 raised WL001's score) are shown with it
    row = _rows(c.get(f"/scans/{scan}/leads?q=SMP0001").text)[0]
    hits = re.search(r'<table class="grid hits">.*?</table>', c.get(f"/scans/{scan}/leads/{row}").text, re.S).group(0)
    assert "佐证词" in hits and "老料" in hits


@pytest.mark.parametrize(
    ("query", "check"),
    [
        ("category=wildlife", lambda r: "wildlife" in r["categories"]),
        ("severity=high", lambda r: r["max_severity"] == "high"),
        ("platform=测试平台", lambda r: r["platform"] == "测试平台"),
        ("rule=AT001", lambda r: "AT001" in r["rule_ids"].split(";")),
        ("q=象牙", lambda r: "象牙" in r["title"] + r["description"]),
    ],
)
def test_filters(wb, query, check):
    from screener.web.leads import LeadFilter, query_leads

    c, _, scan = wb
    params = dict(x.split("=") for x in query.split("&"))
    flt = LeadFilter(**params)
    rows = query_leads(c.app.state.screener.workspace.db, scan, flt, per_page=1000).rows
    everything = query_leads(c.app.state.screener.workspace.db, scan, LeadFilter(), per_page=1000).rows
    assert rows and all(check(r) for r in rows)
    assert len(rows) == sum(check(r) for r in everything)  # nothing matching left out
    page = c.get(f"/scans/{scan}/leads?{query}").text
    assert sorted(_rows(page)) == sorted(r["row_id"] for r in rows)
    scores = [r["score"] for r in query_leads(c.app.state.screener.workspace.db, scan, flt, per_page=1000).rows]
    assert scores == sorted(scores, reverse=True)


def test_decisions_carry_into_a_rescan_and_a_changed_listing_asks_again(tmp_path):
    app = app_for(tmp_path / "ws")
    with TestClient(app) as c:
        c.get("/scans")
        csrf = c.cookies.get("screener_csrf")
        first = _upload(c, write_export(tmp_path / "a.csv"))
        rows = _rows(c.get(f"/scans/{first}/leads?category=wildlife").text)[:3]
        for row, state in zip(rows, ("confirmed", "dismissed", "pending")):
            r = c.post(
                f"/scans/{first}/leads/{row}/decision",
                data={"csrf": csrf, "state": state, "note": f"note {state}", "reviewer": "王五", "seen_version": "0"},
            )
            assert r.status_code == 200
        decided = {row: c.get(f"/scans/{first}/leads/{row}").text for row in rows}
        items = [re.search(r"商品ID (\S+) ·", decided[row]).group(1) for row in rows]
        # the second export: the same rows, one of the three titles edited by its seller
        second = _upload(c, write_export(tmp_path / "b.csv", change={items[0]: "天然象牙手镯 新款 包邮"}))
        counts = {
            k: len(_rows(c.get(f"/scans/{second}/leads?review={k}").text))
            for k in ("confirmed", "dismissed", "pending", "changed")
        }
        assert counts == {"confirmed": 0, "dismissed": 1, "pending": 1, "changed": 1}
        changed = _rows(c.get(f"/scans/{second}/leads?review=changed").text)[0]
        page = c.get(f"/scans/{second}/leads/{changed}").text
        assert "内容已变更" in page and "旧内容" in page  # the earlier decision is shown, on the old text


def test_two_reviewers_on_one_lead_lose_nothing(wb):
    c, _, scan = wb
    db = c.app.state.screener.workspace.db
    row = _rows(c.get(f"/scans/{scan}/leads?category=absolute_terms").text)[0]
    errors = []

    def reviewer(name, state):
        try:
            for _ in range(10):
                decide(db, [LeadKey(scan, row)], state, reviewer=name, seen_version=0)
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=reviewer, args=a) for a in (("甲", "confirmed"), ("乙", "dismissed"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    lead = get_lead(db, scan, row)
    h = history(db, lead["platform"], lead["item_id"])
    assert len(h) == 20 and {x["reviewer"] for x in h} == {"甲", "乙"}
    # the browser form: a decision made on a version someone else replaced is kept and reported
    csrf = c.cookies.get("screener_csrf")
    r = c.post(f"/scans/{scan}/leads/{row}/decision", data={"csrf": csrf, "state": "pending", "seen_version": "1"})
    assert "conflict=1" in str(r.url) and "另一位审核人" in r.text


def test_bulk_on_a_shop_and_export_with_decisions(tmp_path):
    app = app_for(tmp_path / "ws")
    with TestClient(app) as c:
        c.get("/scans")
        csrf = c.cookies.get("screener_csrf")
        scan = _upload(c, write_export(tmp_path / "a.csv", EXTRA))
        assert c.post(f"/scans/{scan}/bulk", data={"csrf": csrf, "state": "dismissed"}).status_code == 422  # no filter
        r = c.post(f"/scans/{scan}/bulk", data={"csrf": csrf, "state": "dismissed", "shop": "测试店", "note": "样品"})
        assert "done=1" in str(r.url)
        rows = _rows(c.get(f"/scans/{scan}/leads?category=wildlife").text)
        c.post(f"/scans/{scan}/leads/{rows[0]}/decision", data={"csrf": csrf, "state": "confirmed", "note": "已取证"})
        confirmed = re.search(r"商品ID (\S+) ·", c.get(f"/scans/{scan}/leads/{rows[0]}").text).group(1)
        assert c.post(f"/scans/{scan}/export", data={"csrf": csrf}).status_code == 200
        xlsx = tmp_path / "r.xlsx"
        xlsx.write_bytes(c.get(f"/scans/{scan}/report.xlsx").content)
        wb = load_workbook(xlsx)
        cases = list(wb["典型案例"].values)
        header = list(cases[0])
        assert "审核结论" in header and "审核备注" in header
        assert [r[header.index("商品ID")] for r in cases[1:]] == [confirmed]
        assert cases[1][header.index("审核结论")] == "确认违规" and cases[1][header.index("审核备注")] == "已取证"
        every_cell = {str(v) for ws in wb.worksheets for row in ws.values for v in row}
        assert not any("XSS1" in v for v in every_cell)  # the dismissed listing is left out
        overview = {r[0]: r[1] for r in wb["统计概况"].values}
        assert overview["审核：确认违规"] == 1 and overview["审核：误报"] == 1
        html = c.get(f"/scans/{scan}/report.html")
        assert "审核结论：确认违规" in html.text and "script-src 'none'" in html.headers["content-security-policy"]


def test_csrf_uploads_and_paths(wb, tmp_path):
    c, export, scan = wb
    csrf = c.cookies.get("screener_csrf")
    assert c.post(f"/scans/{scan}/leads/0/decision", data={"state": "confirmed"}).status_code == 403
    assert c.post(f"/scans/{scan}/leads/0/decision", data={"state": "confirmed", "csrf": "x" * 32}).status_code == 403
    r = c.post("/scans/start", data={"csrf": csrf, "input": "../../etc/passwd"})
    assert r.status_code == 422
    bad = tmp_path / "evil.sh"
    bad.write_text("echo", encoding="utf-8")
    with bad.open("rb") as f:
        r = c.post("/scans/upload", data={"csrf": csrf}, files={"file": ("../../evil.sh", f)})
    assert r.status_code == 422 and "unsupported file type" in r.text
    ws = c.app.state.screener.workspace
    assert not (ws.root.parent / "evil.sh").exists()
    with export.open("rb") as f:  # a traversal in the name: the base name, inside inputs/
        c.post("/scans/upload", data={"csrf": csrf}, files={"file": ("../../../x/listings.csv", f)})
    c.app.state.screener.jobs.wait_idle(120)
    assert "inputs/listings.csv" in ws.input_files()


def test_upload_size_limit(tmp_path):
    app = app_for(tmp_path / "ws", max_upload_bytes=10_000)
    big = tmp_path / "big.csv"
    big.write_text("item_id,title\n" + "".join(f"{i},象牙手镯{i}\n" for i in range(2000)), encoding="utf-8")
    with TestClient(app) as c:
        c.get("/scans")
        with big.open("rb") as f:
            r = c.post("/scans/upload", data={"csrf": c.cookies.get("screener_csrf")}, files={"file": ("big.csv", f)})
        assert r.status_code == 413
        assert app.state.screener.workspace.input_files() == []


def test_token_for_the_pages_off_loopback(tmp_path):
    app = app_for(tmp_path / "ws", host="0.0.0.0")
    token = app.state.screener.config.token
    with TestClient(app) as c:
        assert c.get("/scans").status_code == 401
        r = c.get(f"/scans?token={token}", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/scans"
        assert c.get("/scans").status_code == 200  # the cookie carries it from then on


def test_rule_health_exclusion_and_miss_example(tmp_path):
    app = app_for(tmp_path / "ws")
    ws = app.state.screener.workspace
    with TestClient(app) as c:
        c.get("/scans")
        csrf = c.cookies.get("screener_csrf")
        scan = _upload(c, write_export(tmp_path / "a.csv", EXTRA))
        rows = _rows(c.get(f"/scans/{scan}/leads?rule=WL001&q=手镯").text)
        c.post(f"/scans/{scan}/leads/{rows[0]}/decision", data={"csrf": csrf, "state": "confirmed"})
        c.post(f"/scans/{scan}/leads/{rows[1]}/decision", data={"csrf": csrf, "state": "dismissed"})
        page = c.get("/rules/health").text
        row = re.search(r'<tr data-rule="WL001">.*?</tr>', page, re.S).group(0)
        assert re.search(r'class="num precision">50%', row)
        excl = re.findall(r'name="text" value="([^"]+)">\s*<button type="submit" class="small">排除', row)
        assert excl, row
        old = app.state.screener.rules.current.hash
        # an exclusion that swallows a hit example is refused; the overrides file stays as it was
        r = c.post("/rules/suggest", data={"csrf": csrf, "kind": "exclude", "rule_id": "WL001", "text": "天然象牙手镯"})
        assert r.status_code == 422 and "breaks an example" in r.text
        assert not ws.overrides.exists() and app.state.screener.rules.current.hash == old
        r = c.post("/rules/suggest", data={"csrf": csrf, "kind": "exclude", "rule_id": "WL001", "text": "象牙摆件"})
        assert r.status_code == 200 and "已写入" in r.text
        assert "象牙摆件" in ws.overrides.read_text(encoding="utf-8")
        assert app.state.screener.rules.current.hash != old
        assert c.get("/api/v1/rules").json()["overrides"][0]["add_exclude"] == ["象牙摆件"]
        r = c.post("/rules/suggest", data={"csrf": csrf, "kind": "miss", "rule_id": "WL001", "text": "象牙白 衬衫"})
        assert r.status_code == 200 and "象牙白 衬衫" in ws.suggested_examples.read_text(encoding="utf-8")
        res = c.post(
            "/rules/playground/check",
            json={"rule_id": "WL001", "yaml": _rule_text(app, "WL001")},
            headers={"x-csrf-token": csrf},
        ).json()
        assert res["ok"] and any(e["suggested"] and e["text"] == "象牙白 衬衫" and e["passed"] for e in res["examples"])


def _rule_text(app, rid):
    from screener.web.playground import rule_source

    return rule_source(app.state.screener.rules.current.ruleset, rid).text


def test_playground_errors_with_editor_lines_and_corpus_diff(wb):
    from screener.web.playground import compare, compile_rule, load_corpus, rule_source

    c, export, _ = wb
    csrf = c.cookies.get("screener_csrf")
    rs = c.app.state.screener.rules.current.ruleset
    src = rule_source(rs, "WL001")
    assert src.text.startswith("id: WL001\n") and "exclude: [象牙白" in src.text
    post = lambda path, **body: c.post(path, json=body, headers={"x-csrf-token": csrf}).json()  # noqa: E731
    broken = src.text.replace("severity: high", "severity: hgh")
    res = post("/rules/playground/check", rule_id="WL001", yaml=broken)
    line = broken.splitlines().index("severity: hgh") + 1
    assert not res["ok"] and res["errors"][0]["line"] == line and "severity" in res["errors"][0]["message"]
    res = post("/rules/playground/check", rule_id="WL001", yaml="id: WL001\nterms: [象牙\n")
    assert not res["ok"] and res["errors"][0]["line"] in (2, 3)
    ok = post("/rules/playground/check", rule_id="WL001", yaml=src.text)
    assert ok["ok"] and ok["examples"] and all(e["passed"] for e in ok["examples"])
    edited = src.text.replace(
        "exclude: [象牙白, 象牙色, 象牙塔, 象牙签]", "exclude: [象牙色, 象牙塔, 象牙签, 象牙手镯]"
    )
    res = post("/rules/playground/check", rule_id="WL001", yaml=edited)
    assert res["ok"] and any(not e["passed"] for e in res["examples"])  # 象牙白T恤 now hits
    corpus = c.app.state.screener.workspace.relative(c.app.state.screener.workspace.inputs / export.name)
    res = post("/rules/playground/compare", rule_id="WL001", yaml=edited, corpus=corpus)
    expected = compare(
        compile_rule(rs, src, src.text).ruleset, compile_rule(rs, src, edited).ruleset, "WL001", load_corpus(export)
    )
    assert (res["gained"], res["lost"]) == (expected.n_gained, expected.n_lost)
    assert res["gained"] >= 1 and res["lost"] >= 1
    assert '<mark class="hit" data-rules="WL001" title="WL001 象牙制品">象牙</mark>白T恤' in res["html"]  # gained
    assert "<script>" not in res["html"] and "&lt;script&gt;" in res["html"]  # the corpus's script title, lost


def test_a_scan_that_cannot_read_its_input_fails_with_the_reason(tmp_path):
    app = app_for(tmp_path / "ws")
    bad = tmp_path / "no_title.csv"
    bad.write_text("item_id,price\n1,3\n", encoding="utf-8")
    with TestClient(app) as c:
        c.get("/scans")
        scan = _upload(c, bad)
        p = c.get(f"/scans/{scan}/progress").json()
        assert p["status"] == "failed" and "no_title.csv" in p["error"] and "title" in p["error"]
        page = c.get("/scans", headers={"accept": "text/html"}).text
        assert "失败" in page and "no_title.csv" in page
        assert c.get(f"/scans/{scan}/leads", headers={"accept": "text/html"}).status_code == 409
        # GB18030 with Chinese headers, mapped automatically, is read like the CLI reads it
        gbk = tmp_path / "导出.csv"
        gbk.write_bytes("商品ID,商品标题,店铺名称\nG1,天然象牙手镯,小店\n".encode("gb18030"))
        scan = _upload(c, gbk)
        assert c.get(f"/scans/{scan}/progress").json()["status"] == "done"
        assert len(_rows(c.get(f"/scans/{scan}/leads").text)) == 1
