"""Interrupted scans: a killed scan resumes from its last completed chunk, to the same outputs.

The outputs of a resumed scan must equal an uninterrupted scan's: no row
missing, none doubled — hits.parquet, flagged.parquet, flagged.csv,
rejects.csv and the summary's counts.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from helpers import RULES

import screener
from screener.errors import OutputError
from screener.io.writers import CHECKPOINT_FILE, WORK_DIR, ScanOutputs, ScanParts
from screener.runner import ResumeError

ROOT = Path(__file__).resolve().parents[1]
COUNTS = (
    "rows_read",
    "rows_scanned",
    "rows_rejected",
    "rows_flagged",
    "hits",
    "duplicate_item_ids",
    "hits_per_rule",
    "hits_per_category",
    "flagged_per_category",
    "checks_undecided",
)


class Stop(Exception):
    """Stands in for Ctrl-C or a crash between two chunks."""


def _generate(n: int, path: Path, seed: int) -> None:
    spec = importlib.util.spec_from_file_location("bench_generate", ROOT / "benchmarks" / "generate.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    gen.write(n, path, seed=seed)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> list[Path]:
    """Two exports with broken rows and item_ids repeated across the chunks (and files)."""
    d = tmp_path_factory.mktemp("resume")
    a = d / "a.csv"
    _generate(3000, a, seed=5)
    lines = a.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[700:700] = ["BROKEN,too,few\n", ",no item id" + "," * 11 + "\n"]
    lines[1500:1500] = [lines[10], lines[20], '9999,"never closed' + "," * 11 + "\n"]  # duplicates of rows 9 and 19
    a.write_text("".join(lines), encoding="utf-8")
    b = d / "b.csv"
    _generate(1200, b, seed=6)  # the same item_id series as a.csv: every row a duplicate
    return [a, b]


def outputs(outdir: Path) -> dict:
    s = json.loads((outdir / "summary.json").read_text(encoding="utf-8"))
    return {
        "hits": pq.read_table(outdir / "hits.parquet"),
        "flagged": pq.read_table(outdir / "flagged.parquet"),
        "flagged_csv": (outdir / "flagged.csv").read_bytes(),
        "rejects": (outdir / "rejects.csv").read_bytes(),
        "counts": {k: s.get(k) for k in COUNTS},
        "inputs": [dict(i) for i in s["inputs"]],
    }


def assert_same(got: dict, want: dict) -> None:
    assert got["hits"].equals(want["hits"])
    assert got["flagged"].equals(want["flagged"])
    assert got["flagged_csv"] == want["flagged_csv"]
    assert got["rejects"] == want["rejects"]
    assert got["counts"] == want["counts"]
    assert got["inputs"] == want["inputs"]


@pytest.fixture(scope="module")
def reference(inputs, rules, tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("ref") / "out"
    s = screener.scan_files(inputs, out, rules, chunk_rows=250, workers=1)
    assert s["rows_read"] == 3000 + 5 + 1200 and s["rows_rejected"] == 3
    assert s["duplicate_item_ids"] == 2 + 1200 and "resumes" not in s
    assert not (out / WORK_DIR).exists()
    return outputs(out)


def interrupt_after(n_chunks: int):
    calls = []

    def on_progress(p) -> None:
        calls.append(p.rows)
        if len(calls) == n_chunks:
            raise Stop

    return on_progress


def checkpoint(outdir: Path) -> dict:
    return json.loads((outdir / WORK_DIR / CHECKPOINT_FILE).read_text(encoding="utf-8"))


# 18 chunks in all: 13 of a.csv, 5 of b.csv; stopped after the last one = before the outputs are written
@pytest.mark.parametrize("stop_after,workers_before,workers_after", [(1, 1, 1), (9, 2, 1), (15, 1, 2), (18, 1, 1)])
def test_interrupted_scan_resumes_to_the_same_outputs(
    tmp_path, inputs, rules, reference, stop_after, workers_before, workers_after
):
    out = tmp_path / "out"
    with pytest.raises(Stop):
        screener.scan_files(
            inputs, out, rules, chunk_rows=250, workers=workers_before, on_progress=interrupt_after(stop_after)
        )
    assert not (out / "summary.json").exists() and not (out / "hits.parquet").exists()
    cp = checkpoint(out)
    assert cp["chunks_done"] == stop_after
    s = screener.scan_files(inputs, out, rules, chunk_rows=250, workers=workers_after, resume=True)
    assert [r["chunks_done"] for r in s["resumes"]] == [stop_after]
    assert s["rows_read"] == s["rows_scanned"] + s["rows_rejected"]
    assert_same(outputs(out), reference)
    assert not (out / WORK_DIR).exists()


def test_resumed_twice_and_killed_while_merging(tmp_path, inputs, rules, reference, monkeypatch):
    out = tmp_path / "out"
    with pytest.raises(Stop):
        screener.scan_files(inputs, out, rules, chunk_rows=250, on_progress=interrupt_after(4))
    with pytest.raises(Stop):
        screener.scan_files(inputs, out, rules, chunk_rows=250, on_progress=interrupt_after(5), resume=True)
    assert checkpoint(out)["chunks_done"] == 9
    # a part of a chunk that never completed (written before the crash, not in the checkpoint) is discarded
    parts = sorted(p.name for p in (out / WORK_DIR).glob("000000008.*"))
    assert parts and not list((out / WORK_DIR).glob("000000009.*"))
    for name in parts:
        (out / WORK_DIR / name.replace("000000008", "000000009")).write_bytes((out / WORK_DIR / name).read_bytes())
    real_commit = ScanOutputs.commit

    def crash(self, summary):
        raise Stop

    monkeypatch.setattr(ScanOutputs, "commit", crash)  # every chunk done, killed while writing the outputs
    with pytest.raises(Stop):
        screener.scan_files(inputs, out, rules, chunk_rows=250, resume=True)
    assert not (out / "summary.json").exists() and not list(out.glob(".*.partial"))
    assert checkpoint(out)["chunks_done"] == 18
    monkeypatch.setattr(ScanOutputs, "commit", real_commit)
    s = screener.scan_files(inputs, out, rules, chunk_rows=250, resume=True)
    assert [r["chunks_done"] for r in s["resumes"]] == [4, 9, 18]
    assert_same(outputs(out), reference)


def test_resume_is_refused_when_rules_inputs_or_options_changed(tmp_path, inputs, rules):
    d = tmp_path / "in"
    d.mkdir()
    mine = [d / p.name for p in inputs]
    for src, dst in zip(inputs, mine):
        dst.write_bytes(src.read_bytes())
    out = tmp_path / "out"
    with pytest.raises(Stop):
        screener.scan_files(mine, out, rules, chunk_rows=250, on_progress=interrupt_after(2))
    other = tmp_path / "rules"
    other.mkdir()
    for f in RULES.iterdir():
        (other / f.name).write_bytes(f.read_bytes())
    f = other / "absolute_terms.yaml"
    f.write_text(f.read_text(encoding="utf-8").replace("score: 30", "score: 31"), encoding="utf-8")
    cases = [
        ({"ruleset": screener.load_rules([other])}, "the rules changed since the interrupted scan (rule-pack hash"),
        ({"inputs": mine[:1]}, "the inputs differ from the interrupted scan's"),
        ({"chunk_rows": 300}, "the interrupted scan used --chunk-rows 250, not 300"),
        ({"mapping": {"商品标题": "title"}}, "the interrupted scan used --map {}, not {'商品标题': 'title'}"),
    ]
    for change, message in cases:
        kw = {"inputs": mine, "ruleset": rules, "chunk_rows": 250, "mapping": None} | change
        with pytest.raises(ResumeError) as ei:
            screener.scan_files(kw.pop("inputs"), out, kw.pop("ruleset"), resume=True, **kw)
        assert message in str(ei.value) and str(out) in str(ei.value)
        assert "run without --resume to start over" in str(ei.value)
    st = mine[1].stat()
    os.utime(mine[1], ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    with pytest.raises(ResumeError, match=r"b\.csv was modified since the interrupted scan"):
        screener.scan_files(mine, out, rules, chunk_rows=250, resume=True)
    with open(mine[0], "a", encoding="utf-8") as fh:
        fh.write("X1,象牙手镯" + "," * 11 + "\n")
    with pytest.raises(ResumeError, match=r"a\.csv changed size since the interrupted scan"):
        screener.scan_files(mine, out, rules, chunk_rows=250, resume=True)
    assert checkpoint(out)["chunks_done"] == 2  # refusing leaves the checkpoint alone
    # the command line: a clear message, exit code 2
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "screener.cli",
            "scan",
            *map(str, mine),
            "-o",
            str(out),
            "--rules",
            str(RULES),
            "--chunk-rows",
            "250",
            "-q",
            "--resume",
        ],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert (
        r.stderr.strip() == f"error: {out}: input {mine[0]} changed size since the interrupted scan; "
        "run without --resume to start over"
    )
    # without --resume the scan starts over
    s = screener.scan_files(mine, out, rules, chunk_rows=250)
    assert "resumes" not in s and s["rows_read"] == 3000 + 5 + 1200 + 1 and not (out / WORK_DIR).exists()


def test_resume_without_a_checkpoint_scans_everything(tmp_path, inputs, rules, reference):
    s = screener.scan_files(inputs, tmp_path / "out", rules, chunk_rows=250, workers=2, resume=True)
    assert "resumes" not in s
    assert_same(outputs(tmp_path / "out"), reference)


def test_two_scans_cannot_write_one_directory(tmp_path, inputs, rules):
    holder = ScanParts(tmp_path / "out")
    try:
        with pytest.raises(OutputError, match="another scan is writing to this directory"):
            screener.scan_files(inputs[:1], tmp_path / "out", rules)
    finally:
        holder.close()
    assert screener.scan_files(inputs[:1], tmp_path / "out", rules, chunk_rows=250)["rows_read"] == 3005


def test_a_scan_killed_with_sigkill_resumes_to_the_same_outputs(tmp_path, rules):
    data = tmp_path / "listings.csv"
    r = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "generate.py"), "40000", "-o", str(data)],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    ref = tmp_path / "ref"
    s_ref = screener.scan_files([data], ref, rules, chunk_rows=2000, workers=1)
    out = tmp_path / "out"
    cmd = [
        sys.executable,
        "-m",
        "screener.cli",
        "scan",
        str(data),
        "-o",
        str(out),
        "--rules",
        str(RULES),
        "--chunk-rows",
        "2000",
        "-w",
        "2",
        "-q",
    ]
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    cp_path = out / WORK_DIR / CHECKPOINT_FILE
    done = 0
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                done = json.loads(cp_path.read_text(encoding="utf-8"))["chunks_done"]
            except (OSError, ValueError):
                done = 0
            if done >= 3:
                break
            time.sleep(0.01)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # the scan and its worker processes
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the scan finished before it could be killed"
    cp = json.loads(cp_path.read_text(encoding="utf-8"))
    assert 3 <= cp["chunks_done"] < 20 and sum(f["rows_read"] for f in cp["tally"]["files"].values()) < 40_000
    assert not (out / "summary.json").exists() and not (out / "hits.parquet").exists()
    r = subprocess.run([*cmd, "--resume"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    got, want = outputs(out), outputs(ref)
    assert_same(got, want)
    s = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert s["rows_read"] == s_ref["rows_read"] == 40_000 and s["resumes"][0]["chunks_done"] >= cp["chunks_done"]
    assert not (out / WORK_DIR).exists()
