"""``screener scan``: files in, outputs (and optionally the report) out."""

from __future__ import annotations

import contextlib
import sys

import click

from ..notices import scan_notices
from .app import main
from .common import (
    allow_empty_option,
    as_of_option,
    errors,
    examples,
    load_ruleset,
    map_option,
    previous_option,
    rules_options,
)

SPARK_INSTALL = "pip install '.[spark]' in a checkout, or 'screener[spark]'; needs Java 17+"
DEFAULT_CHUNK_ROWS = 20_000
BAR_STYLE = "green"  # not rich's default pink-red: a scan in progress is not an error


@main.command(
    epilog=examples(
        "screener scan samples/ -o screener-out",
        "screener scan dumps/ -r -o round2 --report --previous round1",
        "screener scan export.xlsx --sheet 商品列表 --map 宝贝名称=title",
        "screener scan dump.parquet --engine spark --master 'local[4]'",
        "screener scan samples/images/listings.csv --ocr -o ocr-out",
        "screener scan export.xlsx --images-dir 图片/ --ocr-cache ~/.cache/screener-ocr",
    )
)
@click.argument("inputs", nargs=-1, required=True)
@click.option(
    "-o",
    "--outdir",
    default="screener-out",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Directory for hits.parquet, flagged.parquet/.csv/.xlsx, rejects.csv, scanned.parquet, summary.json.",
)
@rules_options
@map_option("an export")
@click.option(
    "--chunk-rows",
    default=None,
    type=click.IntRange(min=1),
    help=f"Rows per scan batch (default {DEFAULT_CHUNK_ROWS:,}; with --ocr 200, so images spread over the workers).",
)
@click.option(
    "-w",
    "--workers",
    default=0,
    type=click.IntRange(min=0),
    help="Worker processes (default 0 = all cores; 1 = scan in this process).",
)
@click.option(
    "--engine",
    type=click.Choice(["auto", "pyahocorasick", "hyperscan", "daachorse", "ahocorasick_rs", "spark"]),
    default="auto",
    show_default=True,
    help="auto: scan here with the fastest installed matcher; a matcher name forces it; "
    f"spark: run on Apache Spark (Parquet, CSV or JSONL input; {SPARK_INSTALL}).",
)
@click.option("--master", default=None, metavar="URL", help="Spark master for --engine spark, e.g. local[4], yarn.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar and no summary.")
@click.option(
    "--report",
    "make_report",
    is_flag=True,
    help="Also write the investigator report (OUTDIR/report.xlsx and report.html); see 'screener report'.",
)
@previous_option("With --report: compare with an earlier scan's outputs (new / still flagged / fixed / taken down).")
@click.option(
    "--resume",
    is_flag=True,
    help="Continue a killed or interrupted scan into OUTDIR from its last completed chunk "
    "(same inputs, rules and options; refused if any changed).",
)
@click.option(
    "--sheet",
    metavar="NAME",
    help="XLSX: the sheet with the listings (default: the first sheet whose header has item_id and title).",
)
@click.option(
    "-r", "--recursive", is_flag=True, help="Also read the subfolders of INPUT folders (skipped otherwise, and named)."
)
@click.option(
    "--ocr/--no-ocr",
    "ocr",
    default=None,
    help="Read the text in the listings' images (the images column: 主图, 商品图片 …) and scan it as image_text "
    "(default: on with --images-dir). Needs pip install 'screener[ocr]'.",
)
@click.option(
    "--images-dir",
    type=click.Path(exists=True, file_okay=False),
    default=None,
    help="Folder the listings' image paths are relative to; no image is read from outside it "
    "(default: each input file's folder). Implies --ocr.",
)
@click.option(
    "--ocr-cache",
    type=click.Path(file_okay=False),
    default=None,
    metavar="DIR",
    help="OCR results by image content, reused across scans and by --resume (default: OUTDIR/.ocr-cache).",
)
@as_of_option
@allow_empty_option
def scan(
    inputs,
    outdir,
    rules,
    overrides,
    maps,
    chunk_rows,
    workers,
    engine,
    master,
    quiet,
    make_report,
    previous,
    resume,
    sheet,
    recursive,
    ocr,
    images_dir,
    ocr_cache,
    as_of,
    allow_empty,
) -> None:
    """Scan INPUT files, directories or globs (CSV/TSV, JSONL, Parquet, XLSX).

    The rule packs in use are printed first (see 'screener rules path'); warnings,
    unread columns and skipped files are printed at the end, and kept in summary.json.
    """
    from ..io.columns import parse_map_options
    from ..io.source import ReadOptions
    from ..ocr import OCR_CHUNK_ROWS, OcrOptions, require
    from ..workers import default_workers, input_bytes, start_early

    with errors():
        mapping = parse_map_options(maps)
        read_images = ocr if ocr is not None else images_dir is not None
        if read_images:
            require()  # before anything is read: the install command, not a traceback
        if chunk_rows is None:
            chunk_rows = OCR_CHUNK_ROWS if read_images else DEFAULT_CHUNK_ROWS
        counter = image_counter() if read_images and not quiet and sys.stderr.isatty() else None
        ocr_options = OcrOptions(enabled=read_images, images_dir=images_dir, cache_dir=ocr_cache, counter=counter)
        if engine == "spark":
            if resume:
                raise click.UsageError("--resume works with the local engine, not --engine spark")
            from ..spark import scan_files_spark

            rs = load_ruleset(rules, overrides, announce=not quiet, allow_empty=allow_empty)
            summary = scan_files_spark(
                inputs,
                outdir,
                rs,
                (),
                mapping=mapping,
                master=master,
                chunk_rows=chunk_rows,
                ocr=ocr_options,
                as_of=as_of,
            )
        else:
            workers = workers or default_workers()
            # before the rules load: the worker processes' start overlaps it
            start_early(workers, input_bytes(inputs, recursive))
            from ..runner import scan_files

            rs = load_ruleset(rules, overrides, engine, announce=not quiet, allow_empty=allow_empty)
            with progress_bar(quiet, counter) as on_progress:
                summary = scan_files(
                    inputs,
                    outdir,
                    rs,
                    mapping=mapping,
                    chunk_rows=chunk_rows,
                    workers=workers,
                    on_progress=on_progress,
                    resume=resume,
                    recursive=recursive,
                    read_options=ReadOptions(sheet=sheet),
                    ocr=ocr_options,
                    as_of=as_of,
                )
    if not quiet:
        print_summary(summary, outdir)
    if make_report:
        from .reports import write_report

        write_report(outdir, None, previous, quiet=quiet)


def image_counter():
    """A count of images read, shared with the worker processes (they add to it as they go)."""
    import multiprocessing

    return multiprocessing.get_context("spawn").Value("q", 0)


def progress_columns(images=None):
    """The progress display's columns (a green bar, rows, rates, time left; images read, with --ocr)."""
    from rich.progress import BarColumn, ProgressColumn, TextColumn, TimeRemainingColumn
    from rich.text import Text

    class ImagesColumn(ProgressColumn):
        # read at every refresh, not per chunk: a chunk of listings with images takes minutes
        def render(self, task) -> Text:
            return Text(f"· {images.value:,} images")

    return (
        TextColumn("scanning"),
        BarColumn(complete_style=BAR_STYLE, finished_style=BAR_STYLE, pulse_style=BAR_STYLE),
        TextColumn("{task.fields[rate]}"),
        *((ImagesColumn(),) if images is not None else ()),
        TimeRemainingColumn(),
    )


@contextlib.contextmanager
def progress_bar(quiet: bool, images=None):
    if quiet or not sys.stderr.isatty():
        yield None
        return
    import time

    from rich.progress import Progress

    with Progress(*progress_columns(images), transient=True) as bar:
        task = bar.add_task("scan", total=None, rate="")

        def update(p) -> None:
            dt = max(time.perf_counter() - p.started, 1e-9)
            bar.update(
                task,
                total=p.bytes_total or None,
                completed=p.bytes_done,
                rate=f"{p.rows:,} rows · {p.rows / dt:,.0f} rows/s · {p.bytes_done / 1e6 / dt:,.1f} MB/s",
            )

        yield update


def print_summary(s: dict, outdir: str) -> None:
    click.echo(
        f"read {s['rows_read']:,} rows: scanned {s['rows_scanned']:,}, rejected {s['rows_rejected']:,}; "
        f"flagged {s['rows_flagged']:,} listings with {s['hits']:,} hits in {s['seconds']:.1f}s "
        f"({s['throughput']['rows_per_second'] or 0:,.0f} rows/s)"
    )
    for cat, n in sorted(s["flagged_per_category"].items(), key=lambda kv: -kv[1]):
        click.echo(f"  {cat:<22} {n:>8,} flagged")
    judged = f" · judged as of {s['as_of']}" if s.get("as_of") else ""
    click.echo(f"rules {s['rules']['hash'][:12]} · engine {s['engine']['version']}{judged} · outputs in {outdir}/")
    if s.get("rules_without_basis_in_force"):
        ids = s["rules_without_basis_in_force"]
        click.echo(
            f"  {len(ids)} rules cite no law in force on {s['as_of']} (their hits say so): "
            + ", ".join(ids[:8])
            + (" …" if len(ids) > 8 else "")
        )
    click.echo(f"  leads for people: {outdir}/flagged.xlsx · for programs: flagged.parquet, flagged.csv")
    if s["rows_rejected"]:
        click.echo(f"{s['rows_rejected']:,} rows could not be read: see {outdir}/rejects.csv")
    if "ocr" in s:
        o = s["ocr"]
        click.echo(
            f"images: {o['images']:,} in {o['rows_with_images']:,} listings; read {o['read']:,} "
            f"({o['recognized']:,} by OCR, {o['cache_hits']:,} from the cache, {o['repeats']:,} repeated), "
            f"{sum(o['problems'].values()):,} not read; text in {o['rows_with_text']:,} listings"
        )
    for line in scan_notices(s):
        click.echo(line, err=True)
