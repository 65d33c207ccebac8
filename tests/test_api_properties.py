"""Property-based tests of the API from its own OpenAPI document (schemathesis): no input gives a 5xx."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from webutil import app_for

from screener.web.app import create_app  # noqa: F401  (the app under test)

_app = None


def _schema():
    import atexit
    import shutil
    import tempfile
    from pathlib import Path

    global _app
    # no body limit here: a 413 for a huge generated body is right, but not what these properties are about
    # (test_api_screen tests the limit)
    ws = Path(tempfile.mkdtemp(prefix="screener-api-props-"))
    atexit.register(shutil.rmtree, ws, True)
    _app = app_for(ws, api_only=True, max_listings=20, max_body_bytes=1 << 30)
    return schemathesis.openapi.from_asgi("/openapi.json", _app)


schema = _schema()


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_server_errors(case):
    """Every generated request (valid or not) gets an answer below 500 that matches the documented schema."""
    if case.path == "/api/v1/rules/reload":
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {_app.state.screener.config.token}"}
    response = case.call()
    assert response.status_code < 500, response.text[:500]
    case.validate_response(response)


@pytest.mark.parametrize(
    "junk", [b"\xff\xfe", b"null", b"[]", b'{"listings": null}', b'{"listings": [null]}', b"1e999"]
)
def test_junk_bodies(junk):
    from fastapi.testclient import TestClient

    with TestClient(_app) as c:
        r = c.post("/api/v1/screen", content=junk, headers={"content-type": "application/json"})
    assert r.status_code == 422 and r.json()["error"]["message"]
