"""Running the app with uvicorn: what ``screener serve`` does."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from typing import Any

from .config import ServeConfig, is_loopback


def banner(config: ServeConfig) -> list[str]:
    """What the server prints at start: where it listens and, when needed, its token."""
    host = f"[{config.host}]" if ":" in config.host else config.host
    base = f"http://{host}:{config.port}"
    lines = []
    if config.token_required:
        lines.append(f"screener: open {base}/?token={config.token}")
        lines.append(f"screener: API calls need the header  Authorization: Bearer {config.token}")
    else:
        lines.append(f"screener: open {base}/" + ("" if not config.api_only else "api/docs"))
        lines.append(f"screener: reloading the rules needs  Authorization: Bearer {config.token}")
    if not is_loopback(config.host):
        lines.append(f"screener: listening on {config.host}: reachable from other machines, token required")
    lines.append(f"screener: workspace {config.workspace}")
    return lines


def serve(config: ServeConfig, *, workers: int = 1, echo: Callable[[str], None] = print) -> None:
    """Serve until interrupted. ``workers`` > 1 runs that many processes (use it with ``api_only``)."""
    import uvicorn

    from .app import CONFIG_ENV, config_to_env, create_app

    config = config.with_token()
    common: dict[str, Any] = {
        "host": config.host,
        "port": config.port,
        "log_level": "warning",
        "timeout_graceful_shutdown": 5,
    }
    if workers > 1:
        os.environ[CONFIG_ENV] = config_to_env(config)  # the worker processes build their app from it
        app = create_app(config)  # fail here, once, on a broken pack or workspace
        del app
        for line in banner(config):
            echo(line)
        from uvicorn.supervisors import Multiprocess

        server_config = uvicorn.Config("screener.web.app:app_from_env", factory=True, workers=workers, **common)
        Multiprocess(server_config, sockets=[tcp_listener(server_config.bind_socket())]).run()
    else:
        app = create_app(config)
        for line in banner(config):
            echo(line)
        uvicorn.run(app, **common)


def tcp_listener(sock: socket.socket) -> socket.socket:
    """The listening socket the worker processes share, marked as TCP.

    uvicorn binds it with ``proto`` 0; accepted connections inherit that, and asyncio
    turns Nagle off (TCP_NODELAY) only on sockets whose proto is IPPROTO_TCP. Without
    it every keep-alive response after the first waits ~40 ms for the client's delayed
    ACK (Kludex/uvicorn#3149): 52 ms per single listing with two processes, not 8.
    """
    if sock.family not in (socket.AF_INET, socket.AF_INET6) or sock.proto == socket.IPPROTO_TCP:
        return sock
    tcp = socket.socket(sock.family, sock.type, socket.IPPROTO_TCP, fileno=sock.detach())
    tcp.set_inheritable(True)
    return tcp
