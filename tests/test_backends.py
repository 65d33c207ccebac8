"""Every installed matcher backend yields exactly the hits of the default one."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from helpers import RULES

import screener
from screener.matcher import available_backends

ROOT = Path(__file__).resolve().parents[1]
OTHERS = [b for b in available_backends() if b != "pyahocorasick"]


def _generated(n: int) -> pa.Table:
    spec = importlib.util.spec_from_file_location("bench_generate", ROOT / "benchmarks" / "generate.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    return pa.Table.from_pylist([dict(zip(gen.COLUMNS, r)) for r in gen.rows(n, seed=3)])


@pytest.fixture(scope="module")
def corpora():
    samples = pacsv.read_csv(
        ROOT / "samples" / "listings.csv",
        convert_options=pacsv.ConvertOptions(
            column_types={"item_id": pa.string(), "price": pa.string(), "original_price": pa.string()}
        ),
    )
    return {"samples": samples, "generated": _generated(20_000)}


@pytest.mark.skipif(not OTHERS, reason="no accelerated backend installed (pip install '.[fast]')")
@pytest.mark.parametrize("backend", OTHERS)
@pytest.mark.parametrize("packs", ["fixture", "bundled"])
@pytest.mark.parametrize("corpus", ["samples", "generated"])
def test_backend_matches_default(corpora, backend, packs, corpus):
    paths = [RULES] if packs == "fixture" else None
    base = screener.scan_table(corpora[corpus], screener.load_rules(paths, backend="pyahocorasick")).hits
    other = screener.scan_table(corpora[corpus], screener.load_rules(paths, backend=backend)).hits
    assert other.num_rows == base.num_rows
    assert other.equals(base)


def test_auto_picks_an_installed_backend():
    rs = screener.load_rules([RULES])
    assert rs.backend == available_backends()[0]
    with pytest.raises(ValueError):
        screener.load_rules([RULES], backend="nonesuch")


@pytest.mark.skipif("hyperscan" not in available_backends(), reason="hyperscan not installed (x86-64 only)")
def test_hyperscan_database_comes_from_the_disk_cache(tmp_path, monkeypatch):
    import hyperscan

    from screener.matcher import AhoCorasickMatcher, HyperscanMatcher

    monkeypatch.setenv("SCREENER_CACHE", str(tmp_path))
    keys = ["象牙".encode(), "象".encode(), b"ivory", "手镯".encode()]
    data = "老挝回流象牙手镯 ivory".encode()
    expected = AhoCorasickMatcher(keys).find(data)
    first = HyperscanMatcher(keys)
    (entry,) = (tmp_path / "hyperscan").glob("*.hsdb")

    def no_compile(*args, **kwargs):
        raise AssertionError("compiled although the cache holds the database")

    monkeypatch.setattr(hyperscan, "Database", no_compile)
    for m in (first, HyperscanMatcher(keys)):  # built, then loaded: the same matches
        assert [a.tolist() for a in m.find(data)] == [a.tolist() for a in expected]
    monkeypatch.undo()

    # a torn entry is not trusted: it is compiled again and replaced
    monkeypatch.setenv("SCREENER_CACHE", str(tmp_path))
    entry.write_bytes(entry.read_bytes()[:100])
    again = HyperscanMatcher(keys)
    assert [a.tolist() for a in again.find(data)] == [a.tolist() for a in expected]
    assert entry.stat().st_size > 100
    # other keys, another entry
    HyperscanMatcher([*keys, "犀角".encode()])
    assert len(list((tmp_path / "hyperscan").glob("*.hsdb"))) == 2
