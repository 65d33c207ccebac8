"""The campaign category codes (``screener/data/taxonomy.yaml``).

These are the bundled defaults; :meth:`screener.config.Config.taxonomy` adds an
office's own categories and department names (``screener.toml``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

#: listing: judged from a listing's own fields; shop: from the shop's record.
SCOPES = ("listing", "shop")


@dataclass(frozen=True, slots=True)
class Category:
    code: str
    name: str
    task: str
    scope: str
    departments: tuple[str, ...]


@lru_cache(maxsize=1)
def _document() -> dict[str, Any]:
    text = resources.files("screener.data").joinpath("taxonomy.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def categories() -> dict[str, Category]:
    """The bundled categories, by code."""
    return {
        code: Category(code, body["name"], body["task"], body["scope"], tuple(body["departments"]))
        for code, body in _document()["categories"].items()
    }


def placeholder_departments() -> tuple[str, ...]:
    """Department names of the bundled taxonomy that each office replaces with its own."""
    return tuple(_document().get("placeholder_departments") or ())
