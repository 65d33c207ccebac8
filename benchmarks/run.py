"""Benchmark: end-to-end scans against the matchers' raw speed and naive baselines.

    python benchmarks/run.py                        # 100k and 1M rows, writes benchmarks/RESULTS.md
    python benchmarks/run.py --rows 100000 --quick  # a smoke run
    python benchmarks/run.py --flat-memory 10000000 # also the 10M-row flat-memory run
    python benchmarks/run.py --spark                # also Spark local[2] vs the local scan (1M rows)
    python benchmarks/run.py --workers-only --flat-memory 10000000  # only workers and memory, into RESULTS.md
    python benchmarks/run.py --core-only            # only the scan-core section (200k rows), into RESULTS.md

Everything is measured in one run, on the same generated rows
(benchmarks/generate.py, deterministic):

* end to end: ``screener scan`` as a subprocess (read → write, bundled packs),
  1 and 2 workers, each installed matcher backend; rows/s, MB/s, peak RSS;
* the limit: a bare per-row pass of each matcher over the same rows'
  title + description with the bundled packs' literals (~pack-sized set);
* the naive pipeline a newcomer would write (pyahocorasick on ``str`` plus
  jieba on every row) and a Python ``re`` alternation of the same literals,
  on a sample of the rows (they are orders of magnitude slower);
* loading and compiling the bundled packs, cold (no cache) and warm;
* workers and memory (issue 12): 2 workers against 1 at 200k and 1M rows,
  best of two interleaved runs each, and the peak RSS of the scan process and
  of the largest worker at 100k, 1M (and 10M with --flat-memory) rows; the
  machine's load average is recorded with them, since other processes on the
  machine change every wall-clock ratio;
* the scan core (issue 12), on one set of --core-rows rows: ``screener scan``
  with 1 worker against a bare hyperscan pass with the packs' terms and aliases
  as written and against the naive pipeline, candidates per row and CPU seconds
  per stage, each figure with the load average it was taken at.

Timings are wall-clock on whatever machine runs this; the ratios are what the
targets are about. Large data goes to --data-dir (default: a temp dir) and is
never committed.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
import generate  # noqa: E402

csv.field_size_limit(1 << 30)


def sh(cmd: list[str], env: dict | None = None) -> tuple[float, int, str, float | None]:
    """Run a command; (wall seconds, peak RSS in KB, stdout, CPU seconds user + system).

    RSS and CPU cover the process and the children it waited for (not forkserver workers).
    """
    wrapped = ["/usr/bin/time", "-f", "%e %M %U %S", *cmd] if Path("/usr/bin/time").exists() else cmd
    t = time.perf_counter()
    p = subprocess.run(wrapped, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{p.stderr[-3000:]}")
    rss, cpu = 0, None
    last = p.stderr.strip().splitlines()[-1] if p.stderr.strip() else ""
    m = re.fullmatch(r"([\d.]+) (\d+) ([\d.]+) ([\d.]+)", last)
    if m:
        rss = int(m.group(2))  # max RSS of the scan process (and of children it waited for)
        cpu = float(m.group(3)) + float(m.group(4))
    return wall, rss, p.stdout, cpu


def e2e(data: Path, workers: int, engine: str, outdir: Path) -> dict:
    cmd = [
        sys.executable,
        "-m",
        "screener.cli",
        "scan",
        str(data),
        "-o",
        str(outdir),
        "-q",
        "--workers",
        str(workers),
        "--engine",
        engine,
    ]
    wall, rss, _, cpu = sh(cmd)
    summary = json.loads((outdir / "summary.json").read_text(encoding="utf-8"))
    mem = summary.get("memory") or {}
    # workers are the forkserver's children, invisible to /usr/bin/time: the scan reports them
    rss = max(rss, mem.get("peak_rss_kb") or 0, mem.get("worker_peak_rss_kb") or 0)
    return {
        "workers": workers,
        "engine": engine,
        "wall": wall,
        "cpu": cpu,
        "rows": summary["rows_read"],
        "seconds": summary["seconds"],
        "rss_kb": rss,
        "scan_rss_kb": mem.get("peak_rss_kb"),
        "worker_rss_kb": mem.get("worker_peak_rss_kb"),
        "stage_seconds": summary.get("stage_seconds", {}),
        "flagged": summary["rows_flagged"],
        "hits": summary["hits"],
    }


def load_texts(data: Path, limit: int | None = None) -> list[bytes]:
    import pyarrow.csv as pacsv

    t = pacsv.read_csv(data, convert_options=pacsv.ConvertOptions(include_columns=["title", "description"]))
    if limit:
        t = t.slice(0, limit)
    titles = t.column("title").to_pylist()
    descs = t.column("description").to_pylist()
    return [((a or "") + "\n" + (b or "")).encode("utf-8") for a, b in zip(titles, descs)]


def pack_literals() -> list[str]:
    import screener

    rs = screener.load_rules()
    return sorted({k.text for k in rs.keys if k.surface == 0})


def bare_matchers(texts: list[bytes], literals: list[str]) -> list[dict]:
    """One call per row over title + description: the practical limit of each matcher."""
    out = []
    nbytes = sum(len(t) for t in texts)
    keys = [lit.encode("utf-8") for lit in literals]
    latin = [t.decode("latin-1") for t in texts]
    strs = [t.decode("utf-8") for t in texts]

    def measure(name: str, fn, items) -> None:
        t = time.perf_counter()
        hits = 0
        for x in items:
            hits += fn(x)
        dt = time.perf_counter() - t
        out.append({"matcher": name, "rows_per_s": len(items) / dt, "mb_per_s": nbytes / 1e6 / dt, "hits": hits})

    import ahocorasick

    a_str = ahocorasick.Automaton()
    for i, k in enumerate(literals):
        a_str.add_word(k, i)
    a_str.make_automaton()
    measure("pyahocorasick (str)", lambda s: sum(1 for _ in a_str.iter(s)), strs)
    a_lat = ahocorasick.Automaton()
    for i, k in enumerate(keys):
        a_lat.add_word(k.decode("latin-1"), i)
    a_lat.make_automaton()
    measure("pyahocorasick (utf-8 bytes)", lambda s: sum(1 for _ in a_lat.iter(s)), latin)
    try:
        import hyperscan

        db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        db.compile(expressions=keys, ids=list(range(len(keys))), elements=len(keys), flags=0, literal=True)
        scratch = hyperscan.Scratch(db)
        count = [0]

        def on(*_a):
            count[0] += 1

        def hs(b: bytes) -> int:
            before = count[0]
            db.scan(b, match_event_handler=on, scratch=scratch)
            return count[0] - before

        measure("hyperscan (bytes)", hs, texts)
    except ImportError:
        pass
    try:
        import daachorse

        pma = daachorse.DoubleArrayAhoCorasick(keys)
        measure("daachorse (bytes)", lambda b: len(pma.find_overlapping(b)), texts)
    except ImportError:
        pass
    try:
        import ahocorasick_rs

        ac = ahocorasick_rs.BytesAhoCorasick(keys)
        measure("ahocorasick_rs (bytes)", lambda b: len(ac.find_matches_as_indexes(b, overlapping=True)), texts)
    except ImportError:
        pass
    return out


def naive(texts: list[bytes], literals: list[str]) -> list[dict]:
    """What a newcomer writes: per row, pyahocorasick on str and jieba.lcut; and a re alternation."""
    import logging

    import ahocorasick
    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    strs = [t.decode("utf-8") for t in texts]
    nbytes = sum(len(t) for t in texts)
    a = ahocorasick.Automaton()
    for i, k in enumerate(literals):
        a.add_word(k, i)
    a.make_automaton()
    out = []
    t = time.perf_counter()
    for s in strs:
        list(a.iter(s))
        jieba.lcut(s)
    dt = time.perf_counter() - t
    out.append(
        {
            "pipeline": "naive: pyahocorasick(str) + jieba.lcut per row",
            "rows": len(strs),
            "rows_per_s": len(strs) / dt,
            "mb_per_s": nbytes / 1e6 / dt,
        }
    )
    rx = re.compile("|".join(re.escape(k) for k in sorted(literals, key=len, reverse=True)))
    t = time.perf_counter()
    for s in strs:
        rx.findall(s)
    dt = time.perf_counter() - t
    out.append(
        {
            "pipeline": "Python re alternation of the literals",
            "rows": len(strs),
            "rows_per_s": len(strs) / dt,
            "mb_per_s": nbytes / 1e6 / dt,
        }
    )
    return out


def compile_times(tmp: Path) -> dict:
    code = (
        "import time; t=time.perf_counter(); import screener; r=screener.load_rules(); "
        "[r.matcher(s) for s in (0, 1)]; print(time.perf_counter()-t)"
    )
    env = dict(os.environ, SCREENER_CACHE=str(tmp / "cache"))
    shutil.rmtree(tmp / "cache", ignore_errors=True)
    cold = float(
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout
    )
    warm = float(
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout
    )
    return {"cold_s": cold, "warm_s": warm}


def machine() -> str:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import pyarrow

    import screener

    return (
        f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, pyarrow {pyarrow.__version__}, "
        f"screener {screener.__version__}"
    )


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--ceiling-child"]:
        return ceiling_child(Path(argv[1]), int(argv[2]))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--data-dir", type=Path, default=None)
    ap.add_argument("--naive-rows", type=int, default=5_000, help="sample size for the naive baselines")
    ap.add_argument("--flat-memory", type=int, default=0, metavar="N", help="also scan N rows once for peak RSS")
    ap.add_argument("--spark", action="store_true", help="also Spark local[2] on the largest size")
    ap.add_argument("--quick", action="store_true", help="default backend only")
    ap.add_argument("--workers-rows", type=int, nargs="+", default=[200_000, 1_000_000], help="2 workers vs 1")
    ap.add_argument("--memory-rows", type=int, nargs="+", default=[100_000, 1_000_000], help="peak RSS")
    ap.add_argument(
        "--workers-only", action="store_true", help="only workers and memory, spliced into an existing --out"
    )
    ap.add_argument("--ceiling-only", action="store_true", help="only the two-process ceiling (workers section)")
    ap.add_argument("--core-rows", type=int, default=200_000, help="rows for the scan-core section")
    ap.add_argument("--core-only", action="store_true", help="only the scan-core section, spliced into --out")
    ap.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    ap.add_argument("--json", type=Path, default=HERE / "results.json")
    args = ap.parse_args(argv)

    from screener.matcher import available_backends

    tmp = Path(args.data_dir or tempfile.mkdtemp(prefix="screener-bench-"))
    tmp.mkdir(parents=True, exist_ok=True)
    backends = available_backends()
    results: dict = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "command": "python benchmarks/run.py " + " ".join(argv),
        "backends": backends,
        "sizes": {},
    }
    if args.core_only:
        command = results["command"]
        results = json.loads(args.json.read_text(encoding="utf-8")) if args.json.exists() else results
        results["core"] = scan_core(tmp, args.core_rows, args.naive_rows, backends[0], command)
        args.json.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        text = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
        args.out.write_text(splice(text, render_core(results["core"]), CORE_BEGIN, CORE_END), encoding="utf-8")
        print(f"wrote the scan-core section of {args.out}")
        return 0
    if args.ceiling_only:  # the workers section's ceiling alone, re-measured
        results = json.loads(args.json.read_text(encoding="utf-8"))
        results["workers"]["ceiling"] = ceiling(tmp / f"listings-{min(args.workers_rows)}.csv", CEILING_ROWS)
        args.json.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        text = args.out.read_text(encoding="utf-8")
        args.out.write_text(splice(text, render_workers(results["workers"])), encoding="utf-8")
        print(f"wrote the workers and memory section of {args.out}")
        return 0
    if args.workers_only:
        command = results["command"]
        results = json.loads(args.json.read_text(encoding="utf-8")) if args.json.exists() else results
        results["workers"] = workers_and_memory(tmp, args, backends[0], command)
        args.json.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        section = render_workers(results["workers"])
        text = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
        args.out.write_text(splice(text, section), encoding="utf-8")
        print(f"wrote the workers and memory section of {args.out}")
        return 0
    literals = pack_literals()
    results["literals"] = len(literals)
    results["compile"] = compile_times(tmp)
    for n in args.rows:
        data = tmp / f"listings-{n}.csv"
        if not data.exists():
            generate.write(n, data)
        size = data.stat().st_size
        entry: dict = {"bytes": size, "e2e": [], "bare": [], "naive": []}
        runs = [(w, b) for b in (backends[:1] if args.quick else backends) for w in (1, 2)]
        for w, b in runs:
            r = e2e(data, w, b, tmp / f"out-{n}-{b}-{w}")
            r["mb_per_s"] = size / 1e6 / r["wall"]
            r["rows_per_s"] = r["rows"] / r["wall"]
            entry["e2e"].append(r)
            print(
                f"{n:>9} e2e {b:<15} w={w} {r['rows_per_s']:>10,.0f} rows/s {r['mb_per_s']:7.1f} MB/s "
                f"rss {r['rss_kb'] / 1024:6.0f} MB",
                flush=True,
            )
        texts = load_texts(data)
        entry["bare"] = bare_matchers(texts, literals)
        for r in entry["bare"]:
            print(
                f"{n:>9} bare {r['matcher']:<28} {r['rows_per_s']:>10,.0f} rows/s {r['mb_per_s']:7.1f} MB/s", flush=True
            )
        entry["naive"] = naive(texts[: args.naive_rows], literals)
        for r in entry["naive"]:
            print(f"{n:>9} {r['pipeline']:<50} {r['rows_per_s']:>10,.0f} rows/s", flush=True)
        del texts
        results["sizes"][str(n)] = entry
    results["workers"] = workers_and_memory(tmp, args, backends[0], results["command"])
    results["core"] = scan_core(tmp, args.core_rows, args.naive_rows, backends[0], results["command"])
    if args.spark:
        results["spark"] = spark_vs_local(tmp, max(args.rows))
    args.json.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    args.out.write_text(render(results), encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


def spark_vs_local(tmp: Path, n: int) -> dict:
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    csv_path = tmp / f"listings-{n}.csv"
    pq_path = tmp / f"listings-{n}.parquet"
    if not pq_path.exists():
        pq.write_table(
            pacsv.read_csv(
                csv_path, convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(generate.COLUMNS, "string"))
            ),
            pq_path,
        )
    local = e2e(pq_path, 2, "auto", tmp / "out-spark-local")
    cmd = [
        sys.executable,
        "-m",
        "screener.cli",
        "scan",
        str(pq_path),
        "-o",
        str(tmp / "out-spark"),
        "-q",
        "--engine",
        "spark",
        "--master",
        "local[2]",
    ]
    wall, _rss, _, _cpu = sh(cmd)
    return {
        "rows": n,
        "local_wall": local["wall"],
        "local_rows_per_s": n / local["wall"],
        "spark_wall": wall,
        "spark_rows_per_s": n / wall,
    }


def render(r: dict) -> str:
    lines = [
        "# Benchmark results",
        "",
        f"Measured {r['date']} on {r['machine']}.",
        f"Reproduce: `{r['command']}` (data generated by `benchmarks/generate.py`, deterministic; "
        f"{r['literals']} distinct literals in the bundled packs; backends installed: {', '.join(r['backends'])}).",
        "",
        "## Load and compile the bundled packs",
        "",
        f"- cold (no cache: parse, validate, compile, build automata): {r['compile']['cold_s']:.2f} s",
        f"- warm (compiled rule set from the cache, automata built): {r['compile']['warm_s']:.2f} s",
        "",
    ]
    for n, e in r["sizes"].items():
        lines += [
            f"## {int(n):,} listings ({e['bytes'] / 1e6:.0f} MB CSV)",
            "",
            "End to end (`screener scan`: read CSV → normalize → match → evaluate → write Parquet/CSV):",
            "",
            "| backend | workers | rows/s | MB/s | peak RSS (largest process) | flagged |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for x in e["e2e"]:
            lines.append(
                f"| {x['engine']} | {x['workers']} | {x['rows_per_s']:,.0f} | {x['mb_per_s']:.1f} | "
                f"{x['rss_kb'] / 1024:.0f} MB | {x['flagged']:,} |"
            )
        lines += [
            "",
            "Bare per-row pass of each matcher over the same rows' title + description (the limit):",
            "",
            "| matcher | rows/s | MB/s |",
            "|---|---:|---:|",
        ]
        for x in e["bare"]:
            lines.append(f"| {x['matcher']} | {x['rows_per_s']:,.0f} | {x['mb_per_s']:.1f} |")
        lines += [
            "",
            f"Naive baselines (first {e['naive'][0]['rows']:,} rows):",
            "",
            "| pipeline | rows/s | MB/s |",
            "|---|---:|---:|",
        ]
        for x in e["naive"]:
            lines.append(f"| {x['pipeline']} | {x['rows_per_s']:,.1f} | {x['mb_per_s']:.2f} |")
        lines += ["", "Targets:", "", *_targets(e, r), ""]
    if "core" in r:
        lines += [*render_core(r["core"]).splitlines(), ""]
    if "workers" in r:
        lines += [*render_workers(r["workers"]).splitlines(), ""]
    if "spark" in r:
        s = r["spark"]
        lines += [
            "## Spark local[2] vs the local scan",
            "",
            "| engine | rows/s | wall |",
            "|---|---:|---:|",
            f"| local, 2 workers | {s['local_rows_per_s']:,.0f} | {s['local_wall']:.1f} s |",
            f"| Spark local[2] | {s['spark_rows_per_s']:,.0f} | {s['spark_wall']:.1f} s |",
            "",
        ]
    return "\n".join(lines)


def _targets(e: dict, r: dict) -> list[str]:
    def best(w: int) -> dict:
        return max((x for x in e["e2e"] if x["workers"] == w), key=lambda x: x["rows_per_s"])

    out = []
    one, two = best(1), best(2)
    hs = next((x for x in e["bare"] if x["matcher"].startswith("hyperscan")), None)
    if hs:
        ratio = one["rows_per_s"] / hs["rows_per_s"]
        out.append(
            f"- end to end, 1 worker ({one['engine']}) vs bare per-row hyperscan: {100 * ratio:.0f}% (target ≥ 40%)"
        )
    nv = e["naive"][0]
    out.append(
        f"- end to end, 1 worker vs the naive pipeline: {one['rows_per_s'] / nv['rows_per_s']:,.0f}× (target ≥ 100×)"
    )
    same = next((x for x in e["e2e"] if x["workers"] == 1 and x["engine"] == two["engine"]), one)
    out.append(
        f"- 2 workers vs 1 ({two['engine']}, one run each): {two['rows_per_s'] / same['rows_per_s']:.2f}× "
        "(best of two: see Workers and memory)"
    )
    out.append(
        f"- load + compile the bundled packs: cold {r['compile']['cold_s']:.2f} s, "
        f"warm {r['compile']['warm_s']:.2f} s (target < 1 s)"
    )
    return out


# -- workers and memory (issue 12) --------------------------------------------------------------
BEGIN, END = "<!-- workers-and-memory -->", "<!-- /workers-and-memory -->"


def workers_and_memory(tmp: Path, args, backend: str, command: str) -> dict:
    """2 workers vs 1 (best of two interleaved runs) and peak RSS per process, on generated CSV."""
    flat = args.flat_memory or 0
    sizes = sorted(set(args.workers_rows) | set(args.memory_rows) | ({flat} if flat else set()))
    out: dict = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "command": command,
        "backend": backend,
        "scaling": [],
        "memory": [],
    }
    for n in sizes:
        data = tmp / f"listings-{n}.csv"
        if not data.exists():
            generate.write(n, data)
        reps = 2 if n in args.workers_rows else 1
        configs = (1, 2) if n in args.workers_rows or n in args.memory_rows else (2,)
        runs: dict[int, list[dict]] = {1: [], 2: []}
        loads = []
        for _ in range(reps):
            for w in configs:
                loads.append(os.getloadavg()[0])
                outdir = tmp / f"out-workers-{n}-{w}"
                r = e2e(data, w, backend, outdir)
                shutil.rmtree(outdir, ignore_errors=True)
                runs[w].append(r)
                print(
                    f"{n:>10} rows  {w} worker(s)  {r['wall']:7.1f} s  scan process {(r['scan_rss_kb'] or 0) >> 10} MB"
                    f"  largest worker {(r['worker_rss_kb'] or 0) >> 10} MB  load {loads[-1]:.1f}",
                    flush=True,
                )
        if n in args.workers_rows:
            one, two = (min(runs[w], key=lambda x: x["wall"]) for w in (1, 2))
            out["scaling"].append(
                {
                    "rows": n,
                    "bytes": data.stat().st_size,
                    "one": one,
                    "two": two,
                    "ratio": one["wall"] / two["wall"],
                    "walls": {str(w): [x["wall"] for x in runs[w]] for w in (1, 2)},
                    "load": loads,
                }
            )
        if n in args.memory_rows or n == flat:
            out["memory"].append(
                {
                    "rows": n,
                    "bytes": data.stat().st_size,
                    "one_kb": max((x["scan_rss_kb"] or 0 for x in runs[1]), default=None),
                    "scan_kb": max(x["scan_rss_kb"] or 0 for x in runs[2]),
                    "worker_kb": max(x["worker_rss_kb"] or 0 for x in runs[2]),
                }
            )
        if n == flat and n not in args.workers_rows and n not in args.memory_rows:
            data.unlink()  # gigabytes
    if args.workers_rows:
        out["ceiling"] = ceiling(tmp / f"listings-{min(args.workers_rows)}.csv", CEILING_ROWS)
    return out


# -- what two processes get from this machine -------------------------------------------------
CEILING_ROWS = 100_000


def ceiling_child(data: Path, n: int) -> int:
    """One process of :func:`ceiling`: load, read and warm, say ready, wait for go, scan, report."""
    import screener

    rs = screener.load_rules()
    batches = core_batches(data, rs, n)
    print("ready", flush=True)
    sys.stdin.readline()
    w, c = time.perf_counter(), time.process_time()
    for b in batches:
        screener.scan_batch(b, rs)
    print(json.dumps({"wall": time.perf_counter() - w, "cpu": time.process_time() - c, "rows": n}), flush=True)
    return 0


def core_batches(data: Path, rs, n: int | None = None) -> list:
    """The first ``n`` rows of ``data`` (all: None) as canonical batches of ``chunks.SCAN_ROWS`` rows,
    as a chunk is scanned; ``rs`` warmed first (automata, jieba's dictionary), so no timing pays for it."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    from screener.api import canonical_table
    from screener.chunks import SCAN_ROWS
    from screener.schema import ROW_ID, SOURCE_ROW

    t = pacsv.read_csv(
        data, convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(generate.COLUMNS, pa.string()))
    )
    canon, _ = canonical_table(t if n is None else t.slice(0, n))
    del t
    canon = canon.append_column(ROW_ID, pc.subtract(canon.column(SOURCE_ROW), 1).cast(pa.int64()))
    rs.warm()
    return canon.combine_chunks().to_batches(max_chunksize=SCAN_ROWS)


def ceiling(data: Path, n: int, reps: int = 3) -> dict:
    """The machine's own ratio for two processes: ``scan_batch`` over the same ``n`` rows in one
    process alone, then in two at once (started together once both are loaded), ``reps`` times;
    the median of the repetitions' ratios. No reading, writing or coordination: what two workers
    could get at best."""
    import subprocess

    def run(k: int) -> list[dict]:
        procs = [
            subprocess.Popen(
                [sys.executable, str(Path(__file__).resolve()), "--ceiling-child", str(data), str(n)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            for _ in range(k)
        ]
        for p in procs:
            assert p.stdout is not None and p.stdout.readline().strip() == "ready"
        for p in procs:
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        out = [json.loads(p.communicate()[0].strip().splitlines()[-1]) for p in procs]
        return out

    alone, pair, loads = [], [], []
    for _ in range(reps):
        loads.append(load())
        alone.append(n / run(1)[0]["wall"])
        loads.append(load())
        pair.append(sum(n / r["wall"] for r in run(2)))
        print(f"ceiling: one process {alone[-1]:,.0f} rows/s, two at once {pair[-1]:,.0f} rows/s", flush=True)
    # each repetition's two runs are next to each other in time: their ratio is the figure (the
    # machine's speed drifts between repetitions by more than the effect being measured)
    ratios = [p / a for a, p in zip(alone, pair)]
    return {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "rows": n,
        "alone": alone,
        "pair": pair,
        "ratios": ratios,
        "ratio": sorted(ratios)[len(ratios) // 2],
        "load": loads,
    }


def _mb(kb: int | None) -> str:
    return f"{kb / 1024:.0f} MB" if kb else "–"


def render_workers(w: dict) -> str:
    lines = [
        BEGIN,
        "## Workers and memory",
        "",
        f"Measured {w['date']} on {w['machine']}, matcher {w['backend']}: `screener scan` of generated CSV "
        f"(`benchmarks/generate.py`), the best of two interleaved runs per configuration. "
        f"Reproduce: `{w['command']}`. Wall-clock ratios depend on what else runs on the machine: the "
        "load average (1 min) before each run is given.",
        "",
        "| rows | 1 worker | 2 workers | 2 workers vs 1 (target ≥ 1.8×) | load average |",
        "|---:|---:|---:|---:|---|",
    ]
    for x in w["scaling"]:
        one, two = x["one"], x["two"]
        lines.append(
            f"| {x['rows']:,} | {one['wall']:.1f} s ({x['rows'] / one['wall']:,.0f} rows/s) | "
            f"{two['wall']:.1f} s ({x['rows'] / two['wall']:,.0f} rows/s) | {x['ratio']:.2f}× | "
            + ", ".join(f"{v:.1f}" for v in x["load"])
            + " |"
        )
    c = w.get("ceiling")
    if c:
        lines += [
            "",
            f"What two processes get from this machine ({c['date']}): `scan_batch` alone (no reading, writing "
            f"or coordination) over the first {c['rows']:,} rows, in one process and then in two at once, "
            f"{len(c['alone'])} times: two together did **{c['ratio']:.2f}×** one (the median; each time: "
            + "; ".join(
                f"one {a:,.0f}, two {p:,.0f} rows/s, {r:.2f}×" for a, p, r in zip(c["alone"], c["pair"], c["ratios"])
            )
            + "; load average "
            + ", ".join(f"{v:.1f}" for v in c["load"])
            + "). Two workers cannot do better than two independent processes on the same machine: this is "
            "the ceiling the scan's 2-worker ratio is measured against.",
        ]
    lines += [
        "",
        "Peak resident memory per process (target < 600 MB each, flat from 100k to 10M rows):",
        "",
        "| rows | CSV | 1 worker: the scan | 2 workers: the scan process | 2 workers: largest worker |",
        "|---:|---:|---:|---:|---:|",
    ]
    for x in w["memory"]:
        lines.append(
            f"| {x['rows']:,} | {x['bytes'] / 1e6:,.0f} MB | {_mb(x['one_kb'])} | {_mb(x['scan_kb'])} | "
            f"{_mb(x['worker_kb'])} |"
        )
    lines.append(END)
    return "\n".join(lines)


def splice(text: str, section: str, begin: str = BEGIN, end: str = END) -> str:
    """``text`` with its section between ``begin`` and ``end`` replaced by ``section`` (appended when absent)."""
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        return head + section + rest.split(end, 1)[1]
    return text.rstrip("\n") + "\n\n" + section + "\n"


# -- scan core (issue 12) ---------------------------------------------------------------------
CORE_BEGIN, CORE_END = "<!-- scan-core -->", "<!-- /scan-core -->"


def load() -> float:
    return os.getloadavg()[0]


def pack_terms() -> list[str]:
    """Every term and alias string as written in the packs' rules (concepts' terms included
    where a rule uses them): no pinyin, homophone or other derived keys, no exclusions."""
    import screener
    from screener.packs import iter_terms

    out: set[str] = set()
    for rule in screener.load_packs().rules:
        for _role, t in iter_terms(rule):
            out.add(t.text)
            out.update(t.aliases)
    return sorted(out)


def bare_hyperscan(texts: list[bytes], terms: list[str], reps: int = 3) -> dict:
    """One hyperscan call per row over title + description with ``terms``: best of ``reps``."""
    import hyperscan

    keys = [t.encode("utf-8") for t in terms]
    db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    db.compile(expressions=keys, ids=list(range(len(keys))), elements=len(keys), flags=0, literal=True)
    scratch = hyperscan.Scratch(db)
    count = [0]

    def on(*_a) -> None:
        count[0] += 1

    best: dict = {}
    for _ in range(reps):
        count[0] = 0
        la = load()
        w, c = time.perf_counter(), time.process_time()
        for b in texts:
            db.scan(b, match_event_handler=on, scratch=scratch)
        w, c = time.perf_counter() - w, time.process_time() - c
        if not best or c < best["cpu"]:
            best = {"wall": w, "cpu": c, "matches": count[0], "load": la}
    return best


def naive_pipeline(texts: list[bytes], terms: list[str]) -> dict:
    """pyahocorasick over ``str`` plus jieba.lcut on every row: what a newcomer writes."""
    import logging

    import ahocorasick
    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    strs = [t.decode("utf-8") for t in texts]
    a = ahocorasick.Automaton()
    for i, k in enumerate(terms):
        a.add_word(k, i)
    a.make_automaton()
    la = load()
    w, c = time.perf_counter(), time.process_time()
    for s in strs:
        list(a.iter(s))
        jieba.lcut(s)
    return {
        "rows": len(strs),
        "bytes": sum(len(t) for t in texts),
        "wall": time.perf_counter() - w,
        "cpu": time.process_time() - c,
        "load": la,
    }


def core_in_process(data: Path) -> dict:
    """``scan_batch`` over the rows in the pieces a chunk is scanned in (``chunks.SCAN_ROWS``), in this
    process: candidates after the first pass, candidates judged (both passes), CPU per stage."""
    from collections import Counter

    import screener
    from screener.chunks import SCAN_ROWS

    rs = screener.load_rules()
    batches = core_batches(data, rs)
    stages: Counter = Counter()
    first = judged = hits = 0
    la = load()
    w, c = time.perf_counter(), time.process_time()
    for b in batches:
        r = screener.scan_batch(b, rs)
        stages.update(r.stage_seconds)
        first += r.candidates
        judged += sum(r.rule_candidates.values())
        hits += r.hits.num_rows
    return {
        "rows": sum(b.num_rows for b in batches),
        "batch_rows": SCAN_ROWS,
        "wall": time.perf_counter() - w,
        "cpu": time.process_time() - c,
        "load": la,
        "first_pass_candidates": first,
        "judged_candidates": judged,
        "hits": hits,
        "stage_seconds": dict(stages),
    }


def scan_core(tmp: Path, n: int, naive_rows: int, backend: str, command: str) -> dict:
    """Everything the issue's "scan core" targets ask, on the same ``n`` generated rows, in one run."""
    data = tmp / f"listings-{n}.csv"
    if not data.exists():
        generate.write(n, data)
    texts = load_texts(data)
    text_bytes = sum(len(t) for t in texts)
    terms = pack_terms()
    out: dict = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "command": command,
        "backend": backend,
        "rows": n,
        "csv_bytes": data.stat().st_size,
        "text_bytes": text_bytes,
        "terms": len(terms),
    }
    out["compile"] = dict(compile_times(tmp), load=load())
    out["bare"] = bare_hyperscan(texts, terms)
    print(f"core bare hyperscan: {text_bytes / 1e6 / out['bare']['cpu']:.1f} MB/s (CPU)", flush=True)
    out["naive"] = naive_pipeline(texts[:naive_rows], terms)
    print(f"core naive: {out['naive']['rows'] / out['naive']['wall']:,.0f} rows/s", flush=True)
    del texts
    runs = []
    for _ in range(2):
        la = load()
        outdir = tmp / f"out-core-{n}"
        r = e2e(data, 1, backend, outdir)
        shutil.rmtree(outdir, ignore_errors=True)
        r["load"] = la
        runs.append(r)
        print(f"core e2e 1 worker: {r['wall']:.1f} s wall, {r['cpu']} s CPU, load {la:.1f}", flush=True)
    out["e2e_runs"] = [{k: r[k] for k in ("wall", "cpu", "load", "rss_kb", "flagged", "hits")} for r in runs]
    out["e2e"] = min(runs, key=lambda x: x["wall"])
    out["core"] = core_in_process(data)
    print(f"core in process: {out['core']['rows'] / out['core']['cpu']:,.0f} rows/s (CPU)", flush=True)
    return out


def render_core(c: dict) -> str:
    n, tb = c["rows"], c["text_bytes"]
    e, bare, nv, core = c["e2e"], c["bare"], c["naive"], c["core"]
    e_rows, e_mb = n / e["wall"], tb / 1e6 / e["wall"]
    bare_rows_w, bare_mb_w = n / bare["wall"], tb / 1e6 / bare["wall"]
    bare_mb_c = tb / 1e6 / bare["cpu"]
    nv_rows, nv_rows_c = nv["rows"] / nv["wall"], nv["rows"] / nv["cpu"]
    e_rows_c = n / e["cpu"] if e.get("cpu") else e_rows
    # CPU time is the headline: on a shared machine it moves far less than wall clock
    ratio_w, ratio_c = e_rows / bare_rows_w, e_rows_c / (n / bare["cpu"])
    core_c = n / core["cpu"]
    stages = c["e2e"].get("stage_seconds") or {}
    lines = [
        CORE_BEGIN,
        "## Scan core (issue 12)",
        "",
        f"Measured {c['date']} on {c['machine']}, matcher {c['backend']}, in one run on the same "
        f"{n:,} generated rows (`benchmarks/generate.py`; {c['csv_bytes'] / 1e6:.0f} MB CSV, "
        f"{tb / 1e6:.0f} MB of title + description text: every MB/s below is of that text). "
        f"Reproduce: `{c['command']}`. The machine is shared: the 1-minute load average when each "
        "figure was taken is beside it (2 cores; above ~1 other processes take CPU from this one, "
        "so wall-clock figures drop while CPU-time figures hold).",
        "",
        "| figure | rows/s | MB/s | seconds | load average |",
        "|---|---:|---:|---:|---:|",
        f"| `screener scan`, 1 worker, end to end (best of {len(c['e2e_runs'])}, wall) | {e_rows:,.0f} | "
        f"{e_mb:.2f} | {e['wall']:.1f} | {e['load']:.1f} |",
        f"| the same, CPU time (user + system) | {n / e['cpu']:,.0f} | {tb / 1e6 / e['cpu']:.2f} | "
        f"{e['cpu']:.1f} | {e['load']:.1f} |"
        if e.get("cpu")
        else "| the same, CPU time | – | – | – | – |",
        f"| bare hyperscan, one call per row, the packs' {c['terms']:,} terms and aliases as written "
        f"(best of 3, CPU) | {n / bare['cpu']:,.0f} | {bare_mb_c:.1f} | {bare['cpu']:.2f} | {bare['load']:.1f} |",
        f"| the same, wall | {bare_rows_w:,.0f} | {bare_mb_w:.1f} | {bare['wall']:.2f} | {bare['load']:.1f} |",
        f"| `scan_batch` in process, batches of {core.get('batch_rows', 20_000):,} rows as a chunk is scanned "
        f"(no read/write; CPU) | {core_c:,.0f} | "
        f"{tb / 1e6 / core['cpu']:.2f} | {core['cpu']:.1f} | {core['load']:.1f} |",
        f"| naive: pyahocorasick over `str` + `jieba.lcut` per row, first {nv['rows']:,} rows (wall) | "
        f"{nv_rows:,.0f} | {nv['bytes'] / 1e6 / nv['wall']:.2f} | {nv['wall']:.1f} | "
        f"{nv['load']:.1f} |",
        f"| the same, CPU | {nv_rows_c:,.0f} | {nv['bytes'] / 1e6 / nv['cpu']:.2f} | {nv['cpu']:.1f} | "
        f"{nv['load']:.1f} |",
        "",
        *(
            [
                f"Loading the bundled packs (wall, load average {c['compile']['load']:.1f}): "
                f"{c['compile']['warm_s']:.2f} s from the compiled cache, {c['compile']['cold_s']:.2f} s cold "
                "(parse, validate, compile, build the automata).",
                "",
            ]
            if "compile" in c
            else []
        ),
        "Targets (by CPU time, wall clock in brackets):",
        "",
        f"- end to end, 1 worker, vs the bare hyperscan pass: **{100 * ratio_c:.1f} %** ({100 * ratio_w:.1f} %) "
        f"(target ≥ 40 %: {'met' if ratio_c >= 0.4 else 'missed'}); `scan_batch` alone, without reading, "
        f"writing and start-up: {100 * core_c / (n / bare['cpu']):.1f} %",
        f"- end to end, 1 worker, vs the naive pipeline: **{e_rows_c / nv_rows_c:,.1f}×** ({e_rows / nv_rows:,.1f}×) "
        f"(target ≥ 100×: {'met' if e_rows_c / nv_rows_c >= 100 else 'missed'}); 100× the naive pipeline would be "
        f"{100 * nv_rows_c:,.0f} rows/s, {100 * nv_rows_c / (n / bare['cpu']):.1f}× the bare hyperscan pass itself",
        f"- candidates per row after the first pass: **{core['first_pass_candidates'] / n:.2f}**; candidate "
        f"occurrences judged per row, both passes: {core['judged_candidates'] / n:.2f}; hits per row "
        f"{core['hits'] / n:.4f}; the bare pass's matches per row: {bare['matches'] / n:.2f}",
        "",
        "CPU seconds per stage (`scan_batch` in process; and the end-to-end scan's `stage_seconds` from "
        "`summary.json`, which adds reading, writing and the per-chunk bookkeeping):",
        "",
        "| stage | scan_batch (CPU s) | share | `screener scan` summary.json (s) |",
        "|---|---:|---:|---:|",
    ]
    total = sum(core["stage_seconds"].values()) or 1.0
    for k in dict.fromkeys([*core["stage_seconds"], *stages]):
        v = core["stage_seconds"].get(k)
        lines.append(
            f"| {k} | {'' if v is None else f'{v:.2f}'} | {'' if v is None else f'{100 * v / total:.0f} %'} | "
            f"{'' if k not in stages else f'{stages[k]:.2f}'} |"
        )
    lines += [
        "",
        "End-to-end runs (wall s, CPU s, load average): "
        + "; ".join(f"{r['wall']:.1f}, {r['cpu'] or 0:.1f}, {r['load']:.1f}" for r in c["e2e_runs"])
        + f". Peak RSS {e['rss_kb'] / 1024:.0f} MB; {e['flagged']:,} listings flagged, {e['hits']:,} hits.",
        CORE_END,
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
