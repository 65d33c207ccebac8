"""The 22 campaign category codes (``screener/data/taxonomy.yaml``)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import yaml


@dataclass(frozen=True, slots=True)
class Category:
    code: str
    name: str
    task: str
    scope: str
    departments: tuple[str, ...]


@lru_cache(maxsize=1)
def categories() -> dict[str, Category]:
    text = resources.files("screener.data").joinpath("taxonomy.yaml").read_text(encoding="utf-8")
    doc = yaml.safe_load(text)["categories"]
    return {
        code: Category(code, body["name"], body["task"], body["scope"], tuple(body["departments"]))
        for code, body in doc.items()
    }
