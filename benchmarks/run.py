"""Benchmark: end-to-end scans against the matchers' raw speed and naive baselines.

    python benchmarks/run.py                        # 100k and 1M rows, writes benchmarks/RESULTS.md
    python benchmarks/run.py --rows 100000 --quick  # a smoke run
    python benchmarks/run.py --flat-memory 10000000 # also the 10M-row flat-memory run
    python benchmarks/run.py --spark                # also Spark local[2] vs the local scan (1M rows)
    python benchmarks/run.py --workers-only --flat-memory 10000000  # only workers and memory, into RESULTS.md

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
  machine change every wall-clock ratio.

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


def sh(cmd: list[str], env: dict | None = None) -> tuple[float, int, str]:
    """Run a command; (wall seconds, peak RSS of the whole process tree in KB, stdout)."""
    wrapped = ["/usr/bin/time", "-f", "%e %M", *cmd] if shutil.which("time") or Path("/usr/bin/time").exists() else cmd
    t = time.perf_counter()
    p = subprocess.run(wrapped, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{p.stderr[-3000:]}")
    rss = 0
    last = p.stderr.strip().splitlines()[-1] if p.stderr.strip() else ""
    m = re.fullmatch(r"([\d.]+) (\d+)", last)
    if m:
        rss = int(m.group(2))  # max RSS of the scan process (and of children it waited for)
    return wall, rss, p.stdout


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
    wall, rss, _ = sh(cmd)
    summary = json.loads((outdir / "summary.json").read_text(encoding="utf-8"))
    mem = summary.get("memory") or {}
    # workers are the forkserver's children, invisible to /usr/bin/time: the scan reports them
    rss = max(rss, mem.get("peak_rss_kb") or 0, mem.get("worker_peak_rss_kb") or 0)
    return {
        "workers": workers,
        "engine": engine,
        "wall": wall,
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
        "command": "python benchmarks/run.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "backends": backends,
        "sizes": {},
    }
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
    wall, rss, _ = sh(cmd)
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
        lines += ["", "Targets:", ""] + _targets(e, r) + [""]
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
        f"- load + compile the bundled packs: cold {r['compile']['cold_s']:.2f} s, warm {r['compile']['warm_s']:.2f} s (target < 1 s)"
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
    return out


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


def splice(text: str, section: str) -> str:
    """``text`` with its workers-and-memory section replaced by ``section`` (appended when absent)."""
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        return head + section + rest.split(END, 1)[1]
    return text.rstrip("\n") + "\n\n" + section + "\n"


if __name__ == "__main__":
    sys.exit(main())
