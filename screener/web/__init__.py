"""The workbench web app and the screening HTTP API (``screener serve``).

* :func:`create_app` — the ASGI app (FastAPI) for a :class:`ServeConfig`;
* :func:`serve` — run it with uvicorn (what ``screener serve`` does);
* :func:`screen_listings` — what ``POST /api/v1/screen`` does, without HTTP.
"""

from .app import create_app
from .config import ServeConfig
from .screening import screen_listings
from .server import serve

__all__ = ["ServeConfig", "create_app", "screen_listings", "serve"]
