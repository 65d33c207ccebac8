"""``screener serve``: the workbench web app and the screening HTTP API (:mod:`screener.web`)."""

from __future__ import annotations

from pathlib import Path

import click

from .app import main
from .common import errors, examples, rules_options


@main.command(
    epilog=examples(
        "screener serve                                  # http://127.0.0.1:8765/, workspace ./screener-workspace",
        "screener serve --workspace /data/网剑2026 --port 8080",
        "screener serve --api-only --workers 2 --watch 5   # the screening API only, reloading changed packs",
        'screener serve --host 0.0.0.0 --token "$TOKEN"     # reachable from other machines: every request needs it',
    )
)
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Address to listen on; other than loopback needs a token."
)
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on.")
@click.option(
    "--workspace",
    default="screener-workspace",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Folder for uploads, scans, decisions (SQLite) and rule overrides; created on first start.",
)
@click.option("--token", default=None, help="Token every request must carry (default: generated and printed).")
@rules_options
@click.option("--api-only", is_flag=True, help="Only the screening API (/api/v1/...), no workbench pages.")
@click.option(
    "--workers", default=1, show_default=True, type=click.IntRange(min=1), help="Server processes (with --api-only)."
)
@click.option(
    "--watch", default=0.0, type=click.FloatRange(min=0), help="Reload the rules when a file changes (check every N s)."
)
@click.option(
    "--max-listings", default=1000, show_default=True, type=click.IntRange(min=1), help="Listings per API request."
)
@click.option("--max-upload-mb", default=512, show_default=True, type=click.IntRange(min=1), help="Largest upload.")
@click.option(
    "--timeout", default=10.0, show_default=True, type=click.FloatRange(min=0.1), help="Seconds per API request."
)
def serve(
    host, port, workspace, token, rules, overrides, api_only, workers, watch, max_listings, max_upload_mb, timeout
):
    """Start the workbench web app and the screening API (http://127.0.0.1:8765/)."""
    from ..web import ServeConfig
    from ..web import serve as run_server

    if workers > 1 and not api_only:
        raise click.UsageError("--workers > 1 needs --api-only (the workbench runs its scans in one process)")
    config = ServeConfig(
        workspace=Path(workspace),
        host=host,
        port=port,
        token=token,
        rules=tuple(rules),
        overrides=tuple(overrides),
        api_only=api_only,
        max_listings=max_listings,
        max_upload_bytes=max_upload_mb * 1024 * 1024,
        request_timeout=timeout,
        watch=watch,
    )
    with errors():
        run_server(config, workers=workers, echo=click.echo)
