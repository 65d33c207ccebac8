"""Rendering pages: the Jinja2 environment (autoescaped), security headers, the CSRF cookie."""

from __future__ import annotations

from importlib import resources

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from .._version import __version__
from ..labels import SEVERITY_LABELS
from ..taxonomy import categories as taxonomy
from .decisions import REVIEW_STATES, STATES
from .highlight import highlight
from .security import CSRF_COOKIE, CSRF_FIELD, csrf_value

_HERE = resources.files(__package__)
templates = Jinja2Templates(directory=str(_HERE / "templates"))
templates.env.globals.update(
    version=__version__,
    STATES=STATES,
    REVIEW_STATES=REVIEW_STATES,
    SEVERITY_LABELS=SEVERITY_LABELS,
    CSRF_FIELD=CSRF_FIELD,
)
templates.env.filters["highlight"] = highlight
templates.env.filters["category_name"] = lambda code: getattr(taxonomy().get(code), "name", code)
templates.env.filters["link"] = lambda url: (
    url if isinstance(url, str) and url.startswith(("http://", "https://")) else ""
)


def render(request: Request, name: str, status: int = 200, **ctx) -> HTMLResponse:
    """A page; sets this browser's CSRF cookie when it has none."""
    csrf = csrf_value(request)
    resp = templates.TemplateResponse(request, name, {"csrf": csrf, **ctx}, status_code=status)
    resp.headers["Content-Security-Policy"] = (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    )
    resp.headers["X-Content-Type-Options"] = "nosniff"
    if getattr(request.state, "new_csrf", None):
        resp.set_cookie(CSRF_COOKIE, csrf, httponly=False, samesite="strict", path="/")
    return resp


def render_error(request: Request, status: int, message: str) -> HTMLResponse:
    return render(request, "error.html", status=status, status_code=status, message=message)
