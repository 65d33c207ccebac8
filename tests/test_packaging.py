"""The wheel carries every package: pyproject.toml lists them by hand (the packs are mapped in
from rules/), and a package left out imports from a checkout but not from an install."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent


def test_every_package_is_listed_in_pyproject():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["tool"]["setuptools"]["packages"])
    on_disk = {".".join(init.parent.relative_to(ROOT).parts) for init in (ROOT / "screener").rglob("__init__.py")}
    assert on_disk - listed == set(), "add these to [tool.setuptools] packages in pyproject.toml"
    assert "screener.bundled_rules" in listed


def test_the_command_line_starts_without_the_scan_core():
    # the CLI starts a scan's worker processes before pyarrow, pandas and the scan core
    # load (they load in parallel with them), and `screener --help` never waits for them
    code = (
        "import sys, screener.cli; "
        "print(sorted(m for m in ('pyarrow', 'pandas', 'jieba', 'screener.scan') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_public_api_loads_on_first_use():
    import screener
    from screener.runner import scan_files

    assert screener.scan_files is scan_files and "scan_batch" in dir(screener)
    # __all__ stays a literal list for linters and readers: it must name exactly what loads lazily
    assert set(screener.__all__) == set(screener._MODULE_OF) | {"__version__"}
    assert all(getattr(screener, name) is not None for name in screener.__all__)
    with pytest.raises(AttributeError, match="no attribute 'scan_everything'"):
        screener.scan_everything  # noqa: B018
