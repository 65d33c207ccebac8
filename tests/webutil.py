"""Helpers for the web app and API tests: a workspace app, a live server on 127.0.0.1, a small export."""

from __future__ import annotations

import contextlib
import csv
import socket
import threading
import time
from pathlib import Path

import uvicorn

from screener.web import ServeConfig, create_app

RULES = Path(__file__).parent / "fixtures" / "rules"
SAMPLES = Path(__file__).parent.parent / "samples" / "listings.csv"
SCRIPT_TITLE = '<script>window.__xss = 1</script><img src=x onerror="window.__xss=2">象牙手镯'


def config(workspace: Path, **kw) -> ServeConfig:
    return ServeConfig(workspace=workspace, rules=(str(RULES),), **kw).with_token()


def app_for(workspace: Path, **kw):
    return create_app(config(workspace, **kw))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def live_server(app, port: int | None = None):
    """``app`` served by uvicorn on 127.0.0.1 in a thread; yields the base URL."""
    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    t = threading.Thread(target=server.run, daemon=True)
    t.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline or not t.is_alive():
            raise RuntimeError("server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        t.join(30)


def write_export(path: Path, extra: list[dict] = (), change: dict[str, str] | None = None) -> Path:
    """samples/listings.csv plus ``extra`` rows; ``change`` replaces titles by item_id (a seller's edit)."""
    with SAMPLES.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    header = list(rows[0])
    for r in rows:
        if change and r["item_id"] in change:
            r["title"] = change[r["item_id"]]
    rows += [{k: x.get(k, "") for k in header} for x in extra]
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, header)
        w.writeheader()
        w.writerows(rows)
    return path


EXTRA = [
    {"item_id": "XSS1", "title": SCRIPT_TITLE, "shop_name": "测试店", "platform": "测试平台"},
    {"item_id": "IVW1", "title": "纯棉 象牙白T恤 夏季", "shop_name": "服装店", "platform": "测试平台"},
]
