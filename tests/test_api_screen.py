"""The screening API: results equal `screener scan`'s, errors name the field, limits, tokens, reload, metrics."""

from __future__ import annotations

import json
import shutil
import threading
import time

import httpx
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from webutil import RULES, app_for, config, live_server

from screener.cli import main
from screener.schema import HITS_OUTPUT_SCHEMA
from screener.web.app import create_app
from screener.web.models import ScreenResponse

LISTINGS = [
    {"item_id": "A1", "title": "老挝回流 天然象牙手镯 老料", "shop_name": "收藏天地", "platform": "微店"},
    {"item_id": "A2", "title": "纯棉 象牙白T恤", "description": "夏季 新款"},
    {"item_id": "A3", "title": "全网最低价 第一品牌 象-牙雕件", "price": 99.5, "original_price": 999.0},
    {"item_id": 12345, "title": "普通水杯", "description": "象yá 摆件 回流"},
    {"item_id": "A5", "title": "猫池 设备 批发", "shop_license_no": "91350100M000100Y43"},
]
#: An edit to the wildlife fixture pack that makes 水杯 (in LISTINGS[3]) a hit of WL005.
ADD_TERM = ("    fields: [shop_name]\n    terms: [军品]", "    fields: [shop_name, title]\n    terms: [军品, 水杯]")


def copy_rules(tmp_path):
    """The fixture packs copied where a test may edit them."""
    rules = tmp_path / "rules"
    shutil.copytree(RULES, rules)
    return rules


def add_term(text: str) -> str:
    assert ADD_TERM[0] in text
    return text.replace(*ADD_TERM)


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    app = app_for(tmp_path_factory.mktemp("ws"), api_only=True, max_listings=50, max_body_bytes=200_000)
    with TestClient(app) as c:
        c.app_state = app.state.screener
        yield c


def test_results_in_request_order_with_hits_columns(client):
    r = client.post("/api/v1/screen", json={"listings": LISTINGS})
    assert r.status_code == 200, r.text
    body = r.json()
    res = body["results"]
    assert [x["item_id"] for x in res] == ["A1", "A2", "A3", "12345", "A5"]
    assert res[0]["flagged"] and res[0]["categories"] == ["wildlife"] and res[0]["max_severity"] == "high"
    assert not res[1]["flagged"] and res[1]["hits"] == [] and res[1]["score"] == 0 and res[1]["max_severity"] is None
    for x in res:
        for h in x["hits"]:
            assert list(h) == HITS_OUTPUT_SCHEMA.names  # exactly hits.parquet's columns, in its order
    hit = res[0]["hits"][0]
    assert LISTINGS[0]["title"][hit["start"] : hit["end"]] == hit["matched"]  # offsets in the original text
    assert body["rules_hash"] == client.app_state.rules.current.hash
    # the body is written without FastAPI's response validation: it must still be what the document says
    assert ScreenResponse.model_validate(body).model_dump(mode="json") == body
    assert r.headers["content-type"] == "application/json"


def test_same_hits_as_screener_scan(client, tmp_path):
    """Differential: the API and `screener scan` on the same rows give the same hits, column for column."""
    path = tmp_path / "rows.jsonl"
    path.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in LISTINGS) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    res = CliRunner().invoke(main, ["scan", str(path), "-o", str(out), "--rules", str(RULES), "-w", "1", "-q"])
    assert res.exit_code == 0, res.output
    expected = pq.read_table(out / "hits.parquet").to_pylist()
    api = client.post("/api/v1/screen", json={"listings": LISTINGS}).json()["results"]
    got = [h for x in api for h in x["hits"]]
    key = lambda h: (h["row_id"], h["rule_id"], h["field"], h["start"] if h["start"] is not None else -1, h["term"])  # noqa: E731
    assert sorted(got, key=key) == sorted(expected, key=key)
    flagged = {r["item_id"]: r for r in pq.read_table(out / "flagged.parquet").to_pylist()}
    for x in api:
        f = flagged.get(x["item_id"])
        assert x["flagged"] == (f is not None)
        if f:
            assert (x["score"], x["max_severity"], ";".join(x["categories"])) == (
                f["score"],
                f["max_severity"],
                f["categories"],
            )


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        (b'{"listings": [', "bad_json", "body"),
        (json.dumps({"listings": [{"item_id": "1"}]}), "missing_field", "listings.0.title"),
        (json.dumps({"listings": [{"item_id": "1", "title": 5}]}), "invalid_field", "listings.0.title"),
        (
            json.dumps({"listings": [{"item_id": "1", "title": "x", "price": "12元"}]}),
            "invalid_field",
            "listings.0.price",
        ),
        (json.dumps({"listings": [{"item_id": " ", "title": "x"}]}), "invalid_field", "listings.0.item_id"),
        (json.dumps({"listings": [{"item_id": "1", "title": "x", "标题": "y"}]}), "unknown_field", "listings.0.标题"),
        (json.dumps({"items": []}), "missing_field", "listings"),
        (json.dumps({"listings": []}), "invalid_field", "listings"),
        (json.dumps([1, 2]), "invalid_field", "body"),
    ],
)
def test_errors_are_json_naming_the_field(client, body, code, field):
    r = client.post("/api/v1/screen", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["code"] == code and err["field"] == field and field.split(".")[-1] in err["message"]


def test_limits(client):
    r = client.post("/api/v1/screen", json={"listings": [{"item_id": str(i), "title": "x"} for i in range(51)]})
    assert r.status_code == 422 and r.json()["error"]["field"] == "listings"
    assert "at most 50" in r.json()["error"]["message"]
    r = client.post("/api/v1/screen", json={"listings": [{"item_id": "1", "title": "象" * 300_000}]})
    assert r.status_code == 413 and r.json()["error"]["code"] == "too_large"


def test_streamed_body_over_the_limit_is_refused(client):
    def chunks():
        yield b'{"listings": [{"item_id": "1", "title": "'
        for _ in range(300):
            yield b"x" * 1000
        yield b'"}]}'

    r = client.post("/api/v1/screen", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413


def test_rules_health_openapi(client):
    info = client.get("/api/v1/rules").json()
    assert info["hash"] == client.app_state.rules.current.hash
    assert {p["category"] for p in info["packs"]} == {"wildlife", "absolute_terms", "license_display"}
    assert all(p["version"] and len(p["sha256"]) == 64 for p in info["packs"])
    assert client.get("/healthz").json()["status"] == "ok"
    spec = client.get("/openapi.json").json()
    hit = spec["components"]["schemas"]["Hit"]["properties"]
    assert list(hit) == HITS_OUTPUT_SCHEMA.names
    assert "/api/v1/screen" in spec["paths"] and "/scans" not in spec["paths"]


def test_metrics(client):
    client.post("/api/v1/screen", json={"listings": LISTINGS})
    text = client.get("/metrics").text
    assert 'screener_http_requests_total{method="POST",path="/api/v1/screen",status="200"}' in text
    assert "screener_http_request_seconds_bucket" in text
    assert 'screener_hits_total{category="wildlife"}' in text
    listed = [ln for ln in text.splitlines() if ln.startswith("screener_listings_screened_total")]
    assert float(listed[0].split()[-1]) >= len(LISTINGS)


def test_reload_needs_the_token_and_keeps_old_rules_on_error(tmp_path):
    rules = copy_rules(tmp_path)
    from screener.web import ServeConfig, create_app

    cfg = ServeConfig(workspace=tmp_path / "ws", rules=(str(rules),), api_only=True).with_token()
    app = create_app(cfg)
    auth = {"authorization": f"Bearer {cfg.token}"}
    with TestClient(app) as c:
        old = c.get("/api/v1/rules").json()["hash"]
        assert c.post("/api/v1/rules/reload").status_code == 401
        assert c.post("/api/v1/rules/reload", headers={"authorization": "Bearer nope"}).status_code == 401
        pack = rules / "wildlife.yaml"
        good = pack.read_text(encoding="utf-8")
        pack.write_text(good.replace("severity: high", "severity: hgh", 1), encoding="utf-8")
        r = c.post("/api/v1/rules/reload", headers=auth)
        assert r.status_code == 422 and "wildlife.yaml" in r.json()["error"]["message"]
        assert c.get("/api/v1/rules").json()["hash"] == old  # the old set still serves
        assert c.get("/api/v1/rules").json()["last_reload_error"]
        assert c.post("/api/v1/screen", json={"listings": LISTINGS[:1]}).json()["results"][0]["flagged"]
        pack.write_text(add_term(good), encoding="utf-8")
        r = c.post("/api/v1/rules/reload", headers=auth).json()
        assert r["reloaded"] and r["previous_hash"] == old and r["hash"] != old and r["generation"] == 2
        res = c.post("/api/v1/screen", json={"listings": [LISTINGS[3]]}).json()
        assert res["rules_hash"] == r["hash"] and any(h["matched"] == "水杯" for h in res["results"][0]["hits"])
        assert "screener_rules_reload_failures_total 1.0" in c.get("/metrics").text


def test_token_on_every_request_off_loopback(tmp_path):
    from screener.web import ServeConfig, create_app

    cfg = ServeConfig(workspace=tmp_path, host="0.0.0.0", rules=(str(RULES),), api_only=True).with_token()
    assert cfg.token_required and len(cfg.token) >= 24
    with TestClient(create_app(cfg)) as c:
        assert c.get("/healthz").status_code == 401
        assert c.post("/api/v1/screen", json={"listings": LISTINGS[:1]}).status_code == 401
        ok = c.post("/api/v1/screen", json={"listings": LISTINGS[:1]}, headers={"authorization": f"Bearer {cfg.token}"})
        assert ok.status_code == 200
    loop = ServeConfig(workspace=tmp_path).with_token()
    assert not loop.token_required and loop.token  # loopback: only reloading needs it
    assert ServeConfig(workspace=tmp_path, token="given").with_token().token_required


def test_reload_under_load_loses_no_request(tmp_path):
    """Requests keep coming while the rules are reloaded: every one answers 200, on the old or the new set."""
    rules = copy_rules(tmp_path)
    from screener.web import ServeConfig, create_app

    cfg = ServeConfig(workspace=tmp_path / "ws", rules=(str(rules),), api_only=True).with_token()
    app = create_app(cfg)
    old = app.state.screener.rules.current.hash
    statuses, hashes, errors = [], set(), []
    stop = threading.Event()

    def hammer(base):
        with httpx.Client(base_url=base, timeout=30) as h:
            for _ in range(400):  # bounded
                if stop.is_set():
                    break
                try:
                    r = h.post("/api/v1/screen", json={"listings": LISTINGS})
                    statuses.append(r.status_code)
                    body = r.json()
                    hashes.add(body["rules_hash"])
                    new_term = any(h["matched"] == "水杯" for h in body["results"][3]["hits"])
                    # each answer is wholly the old set's or wholly the new one's (水杯 is new)
                    assert new_term == (body["rules_hash"] != old)
                except Exception as exc:  # collected: a failure in a thread must fail the test
                    errors.append(exc)

    pack = rules / "wildlife.yaml"
    with live_server(app) as base:
        threads = [threading.Thread(target=hammer, args=(base,)) for _ in range(3)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 30
        while len(statuses) < 10 and time.monotonic() < deadline:  # requests flowing before the reload
            time.sleep(0.01)
        pack.write_text(add_term(pack.read_text(encoding="utf-8")), encoding="utf-8")
        with httpx.Client(base_url=base, timeout=60) as h:
            for _ in range(2):
                r = h.post("/api/v1/rules/reload", headers={"authorization": f"Bearer {cfg.token}"})
                assert r.status_code == 200, r.text
        stop.set()
        for t in threads:
            t.join(60)
    assert not errors, errors[:3]
    assert statuses and set(statuses) == {200}
    assert old in hashes and app.state.screener.rules.current.hash != old
    assert app.state.screener.rules.current.hash in hashes


def test_watcher_reloads_changed_files(tmp_path):
    rules = copy_rules(tmp_path)
    from screener.web.rulesets import RuleHolder

    holder = RuleHolder((str(rules),), list)
    assert not holder.reload_if_changed()
    pack = rules / "wildlife.yaml"
    good = pack.read_text(encoding="utf-8")
    pack.write_text(good.replace("severity: high", "severity: hgh", 1), encoding="utf-8")
    assert not holder.reload_if_changed() and holder.last_error and holder.current.generation == 1
    pack.write_text(add_term(good), encoding="utf-8")
    assert holder.reload_if_changed() and holder.current.generation == 2 and holder.last_error is None


def test_time_limit(tmp_path):
    app = app_for(tmp_path, api_only=True, request_timeout=1e-6)
    with TestClient(app) as c:
        r = c.post("/api/v1/screen", json={"listings": LISTINGS * 20})
        assert r.status_code == 504 and r.json()["error"]["code"] == "timeout"
        assert "fewer listings" in r.json()["error"]["message"]


def test_concurrent_requests_in_one_process(tmp_path):
    """Threads of one server share a rule set; its automata (hyperscan's scratch space) must take turns."""
    app = app_for(tmp_path, api_only=True)
    many = [dict(x, item_id=f"{x['item_id']}-{i}") for i in range(8) for x in LISTINGS]
    answers, errors = [], []
    with live_server(app) as base:
        expected = httpx.post(base + "/api/v1/screen", json={"listings": many}, timeout=60).json()["results"]

        def work():
            try:
                with httpx.Client(base_url=base, timeout=60) as h:
                    for _ in range(15):
                        answers.append(h.post("/api/v1/screen", json={"listings": many}))
            except Exception as exc:
                errors.append(exc)

        threads = [threading.Thread(target=work) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert not errors and len(answers) == 60
    assert all(r.status_code == 200 and r.json()["results"] == expected for r in answers)


def test_rules_serve_warm_after_start_and_reload(tmp_path):
    # automata, the RE2 set and jieba are built before a set serves, not by its first request
    from screener.compiled import SURFACES

    app = app_for(tmp_path / "ws", api_only=True)
    holder = app.state.screener.rules
    built = {(s, p) for s in SURFACES for p in (True, False)} | {"regex_set"}
    assert built <= holder.current.ruleset._matchers.keys()
    assert holder.reload().ruleset._matchers.keys() >= built


#: Bodies the fast path answers (they validate) and bodies it hands to the FastAPI route.
FAST_AND_SLOW_BODIES = [
    (json.dumps({"listings": LISTINGS}, ensure_ascii=False).encode(), "application/json"),
    (json.dumps({"listings": LISTINGS[:1]}).encode(), "application/json; charset=utf-8"),
    (json.dumps({"listings": LISTINGS[2:4]}).encode(), "application/merge-patch+json"),
    (json.dumps({"listings": LISTINGS}).encode(), "text/plain"),
    (json.dumps({"listings": LISTINGS}).encode(), None),
    (b"", "application/json"),
    (b"\xff\xfe", "application/json"),
    (b"null", "application/json"),
    (b'{"listings": [null]}', "application/json"),
    (b'{"listings": [{"item_id": "1", "title": "x", "price": NaN}]}', "application/json"),
    (b'{"listings": [{"item_id": "1", "title": "\\ud800"}]}', "application/json"),
    (b'{"listings": [{"item_id": true, "title": "x"}]}', "application/json"),
    (b'{"listings": [{"item_id": 7, "title": "x", "price": 1e999}]}', "application/json"),
    (b'{"listings": [{"item_id": 99999999999999999999, "title": "\\u8c61\\u7259"}]}', "application/json"),
    (json.dumps({"listings": [{"item_id": str(i), "title": "x"} for i in range(51)]}).encode(), "application/json"),
]


def test_fast_path_answers_as_the_route_does(tmp_path):
    # valid bodies are answered below the router, the rest by the FastAPI route: every answer the same
    answers = {}
    for fast in (True, False):
        app = create_app(config(tmp_path / f"ws-{fast}", api_only=True, max_listings=50), fast_screen=fast)
        with TestClient(app) as c:
            answers[fast] = []
            for body, ctype in FAST_AND_SLOW_BODIES:
                r = c.post("/api/v1/screen", content=body, headers={"content-type": ctype} if ctype else {})
                answers[fast].append((r.status_code, r.headers["content-type"], r.json()))
    assert answers[True] == answers[False]
    statuses = [a[0] for a in answers[True]]
    assert statuses[:3] == [200, 200, 200] and statuses.count(200) == 4 and all(s == 422 for s in statuses[4:13])


def test_fast_path_is_taken_for_valid_bodies_only(tmp_path, monkeypatch):
    from screener.web import fastscreen

    taken = []
    real = fastscreen.screened_json

    async def spy(state, listings):
        taken.append(len(listings))
        return await real(state, listings)

    monkeypatch.setattr(fastscreen, "screened_json", spy)
    app = create_app(config(tmp_path / "ws", api_only=True, max_listings=50))
    with TestClient(app) as c:
        assert c.post("/api/v1/screen", json={"listings": LISTINGS}).status_code == 200
        assert c.post("/api/v1/screen", json={"listings": [{"item_id": "1"}]}).status_code == 422
        r = c.post("/api/v1/screen", content=b"{}", headers={"content-type": "text/plain"})
        assert r.status_code == 422
    assert taken == [len(LISTINGS)]


def test_engine_errors_are_the_same_json_on_both_paths(tmp_path, monkeypatch):
    from screener.errors import InputError, Location
    from screener.web import api_routes

    def refuse(listings, rules):
        raise InputError("listing 0: no item_id", Location("listings", column="item_id"))

    monkeypatch.setattr(api_routes, "screen_listings", refuse)
    answers = []
    for fast in (True, False):
        app = create_app(config(tmp_path / f"ws-{fast}", api_only=True), fast_screen=fast)
        with TestClient(app) as c:
            r = c.post("/api/v1/screen", json={"listings": LISTINGS[:1]})
            answers.append((r.status_code, r.json()))
    assert answers[0] == answers[1]
    assert answers[0][0] == 422 and answers[0][1]["error"]["field"] == "item_id"
