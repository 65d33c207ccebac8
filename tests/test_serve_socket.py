"""The listening socket ``screener serve --workers N`` shares: Nagle off on every connection."""

import asyncio
import socket

import uvicorn

from screener.web.server import tcp_listener


def _nodelay_of_accepted(listener: socket.socket) -> int:
    """TCP_NODELAY on a connection asyncio accepts from ``listener`` (as a uvicorn worker does)."""
    seen: list[int] = []

    class Probe(asyncio.Protocol):
        def connection_made(self, transport):
            seen.append(transport.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            transport.close()

    async def main():
        server = await asyncio.get_running_loop().create_server(Probe, sock=listener)
        port = listener.getsockname()[1]
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        for _ in range(100):
            if seen:
                break
            await asyncio.sleep(0.01)
        writer.close()
        server.close()
        await server.wait_closed()

    asyncio.run(main())
    return seen[0]


def test_uvicorn_bound_socket_loses_nodelay_and_tcp_listener_restores_it():
    # the bug being worked around: uvicorn's own socket leaves proto at 0, so asyncio keeps Nagle on
    raw = uvicorn.Config(app=None, host="127.0.0.1", port=0).bind_socket()
    fixed = tcp_listener(raw)
    assert fixed.proto == socket.IPPROTO_TCP
    assert fixed.get_inheritable()  # the worker processes get it
    assert _nodelay_of_accepted(fixed) == 1


def test_plain_uvicorn_socket_would_keep_nagle_on():
    raw = uvicorn.Config(app=None, host="127.0.0.1", port=0).bind_socket()
    if raw.proto == socket.IPPROTO_TCP:  # a uvicorn that fixed it: nothing left to show
        return
    assert _nodelay_of_accepted(raw) == 0


def test_tcp_listener_leaves_a_tcp_socket_as_it_is():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        assert tcp_listener(s) is s
    finally:
        s.close()
