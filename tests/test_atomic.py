"""Every output is written whole or not at all (screener.io.atomic)."""

from __future__ import annotations

import os

import pytest

from screener.errors import OutputError
from screener.io.atomic import partial_path, write_atomic, write_json_atomic


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "report.html"
    path.write_text("old", encoding="utf-8")

    def half(tmp):
        tmp.write_text("half", encoding="utf-8")
        raise RuntimeError("disk went away")

    with pytest.raises(RuntimeError):
        write_atomic(path, half)
    assert path.read_text(encoding="utf-8") == "old" and not partial_path(path).exists()
    write_atomic(path, lambda tmp: tmp.write_text("new", encoding="utf-8"))
    assert path.read_text(encoding="utf-8") == "new" and os.listdir(tmp_path) == ["report.html"]


def test_write_errors_name_the_file(tmp_path):
    with pytest.raises(OutputError, match=r"nowhere/summary\.json"):
        write_json_atomic(tmp_path / "nowhere" / "summary.json", {"a": 1})
    write_json_atomic(tmp_path / "s.json", {"象": 1})
    assert (tmp_path / "s.json").read_text(encoding="utf-8") == '{\n  "象": 1\n}\n'
