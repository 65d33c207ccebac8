"""What ``screener serve`` is started with (:class:`ServeConfig`), and who may call it."""

from __future__ import annotations

import ipaddress
import secrets
from dataclasses import dataclass, replace
from pathlib import Path

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
MiB = 1024 * 1024


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name other than localhost: it may resolve anywhere


@dataclass(frozen=True)
class ServeConfig:
    """Options of the web app and the screening API.

    ``token``: required on every request when set; binding a non-loopback
    address without one generates one (:meth:`with_token`). Reloading the rules
    always needs it.
    """

    workspace: Path
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    token: str | None = None
    rules: tuple[str, ...] = ()  # pack files or directories; () = the bundled packs
    overrides: tuple[str, ...] = ()  # extra overrides files besides the workspace's own
    api_only: bool = False
    max_upload_bytes: int = 512 * MiB  # an uploaded export
    max_body_bytes: int = 8 * MiB  # any other request body
    max_listings: int = 1000  # listings in one POST /api/v1/screen
    request_timeout: float = 10.0  # seconds for one screening request
    watch: float = 0.0  # seconds between checks of the rule files for changes (0: no watcher)
    scan_workers: int = 1  # worker processes of a background scan
    leads_per_page: int = 50
    #: every request needs the token; None: when the token was given or the address is not loopback
    token_everywhere: bool | None = None

    @property
    def token_required(self) -> bool:
        if self.token_everywhere is not None:
            return self.token_everywhere
        return self.token is not None or not is_loopback(self.host)

    def with_token(self) -> ServeConfig:
        """This config with a token: the given one, or a generated one (printed by ``screener serve``)."""
        return replace(self, token=self.token or secrets.token_urlsafe(24), token_everywhere=self.token_required)
