"""The network guard: while a test replays, any connection to a non-loopback address fails the test.

Requests made through ``httpx``/``httpx2`` never reach a socket during replay (the transport stubs answer them), so
this guard catches everything else: other HTTP libraries, raw sockets, DNS look-ups. Loopback addresses
(``127.0.0.0/8``, ``::1``, ``localhost``) and Unix sockets stay allowed, so local servers keep working.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
from collections.abc import Callable, Iterator
from typing import Any

from .errors import NetworkBlockedError

__all__ = ["block_network", "is_loopback"]


def is_loopback(host: object) -> bool:
    """Whether ``host`` (a name or an address) is this machine."""
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    name = host.strip("[]").lower().rstrip(".")
    if name in ("localhost", "") or name.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(name.split("%", 1)[0])
    except ValueError:
        return False
    # The unspecified address (0.0.0.0, ::) is what a local server binds to; it never leaves the machine.
    return address.is_loopback or address.is_unspecified


@contextlib.contextmanager
def block_network(
    describe: Callable[[str], str], on_block: Callable[[NetworkBlockedError], None]
) -> Iterator[None]:
    """Refuse connections and look-ups of non-loopback hosts inside the block; restore everything on exit.

    ``describe(host)`` gives the error text; ``on_block`` is told about each refusal (so the test fails even if the
    error is swallowed by a retrying client).
    """
    original_connect = socket.socket.connect
    original_connect_ex = socket.socket.connect_ex
    original_getaddrinfo = socket.getaddrinfo

    def refuse(host: object) -> NetworkBlockedError:
        error = NetworkBlockedError(describe(str(host)))
        on_block(error)
        return error

    def check_address(sock: socket.socket, address: Any) -> None:
        is_ip = sock.family in (socket.AF_INET, socket.AF_INET6) and isinstance(address, tuple)
        if is_ip and not is_loopback(address[0]):
            raise refuse(address[0])

    def connect(sock: socket.socket, address: Any) -> None:
        check_address(sock, address)
        original_connect(sock, address)

    def connect_ex(sock: socket.socket, address: Any) -> int:
        check_address(sock, address)
        return original_connect_ex(sock, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not is_loopback(host):
            raise refuse(host)
        return original_getaddrinfo(host, *args, **kwargs)

    socket.socket.connect = connect  # type: ignore[method-assign,assignment]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign,assignment]
    socket.getaddrinfo = getaddrinfo
    try:
        yield
    finally:
        socket.socket.connect = original_connect  # type: ignore[method-assign]
        socket.socket.connect_ex = original_connect_ex  # type: ignore[method-assign]
        socket.getaddrinfo = original_getaddrinfo
