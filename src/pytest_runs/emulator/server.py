"""HTTP/1.1 framing of the emulator: a threaded stdlib server with keep-alive, gzip and chunked SSE.

* Every answer carries the real API's headers, with obviously fake values where the real ones identify an
  account or a data centre: ``date``, ``content-type``, ``connection``, ``server``, ``cf-ray`` (``…-EMU``),
  ``cf-cache-status``, ``alt-svc``, ``strict-transport-security``, ``x-content-type-options``,
  ``openai-version``, ``openai-organization`` (``user-emulator``), ``openai-project`` (``proj_emulator``),
  ``openai-processing-ms``, ``x-envoy-upstream-service-time``, ``x-request-id``; the first answer on each
  connection also sets a ``__cf_bm`` cookie (``Secure``, so clients never send it back over plain HTTP).
* JSON bodies are pretty-printed (2-space indent, raw UTF-8) and gzip-compressed when the request's
  ``Accept-Encoding`` allows gzip, always with ``content-length``.
* Streams are ``Transfer-Encoding: chunked``, never compressed, one event per chunk, each written (and so
  sent) on its own, with the run's event delay in between; the last chunk is ``0\\r\\n\\r\\n`` unless the
  run's ``emulator_cut_after`` asks for the connection to be dropped mid-body.
* Nothing is logged per request; a client that disconnects mid-stream only ends that stream; unexpected
  exceptions are answered with a 500 ``server_error`` and kept in :attr:`EmulatorHTTPServer.errors`.
"""

from __future__ import annotations

import contextlib
import email.utils
import gzip
import json
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import TCPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from . import errors
from .api import Api, JsonResponse, Request, StreamResponse
from .ids import Clock, IdFactory
from .streams import EventStream

__all__ = ["SERVER_NAME", "EmulatorHTTPServer"]

#: Value of the ``server`` header.
SERVER_NAME = "pytest-runs-emulator"
#: Value of the ``openai-organization`` header (real accounts answer ``user-…`` or ``org-…``).
ORGANIZATION = "user-emulator"
#: Value of the ``openai-project`` header (real accounts answer ``proj_`` and 24 base62 characters).
PROJECT = "proj_emulator"
#: Value of the ``openai-version`` header.
API_VERSION = "2020-10-01"
#: Headers every answer carries with the same value, as the real API's edge sends them.
_STATIC_HEADERS = (
    ("cf-cache-status", "DYNAMIC"),
    ("alt-svc", 'h3=":443"; ma=86400'),
    ("strict-transport-security", "max-age=31536000; includeSubDomains; preload"),
    ("x-content-type-options", "nosniff"),
    ("openai-version", API_VERSION),
    ("openai-organization", ORGANIZATION),
    ("openai-project", PROJECT),
)

# Errors that only mean the peer went away; they end the connection quietly.
_DISCONNECTS = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError)


def _accepts_gzip(header: str) -> bool:
    for item in header.split(","):
        coding, _, params = item.strip().partition(";")
        if coding.strip().lower() not in ("gzip", "*"):
            continue
        quality = params.strip()
        if quality.startswith("q="):
            try:
                return float(quality[2:]) > 0
            except ValueError:
                return False
        return True
    return False


class _Handler(BaseHTTPRequestHandler):
    """One connection: parses requests, asks the :class:`Api`, writes the answers."""

    protocol_version = "HTTP/1.1"
    # Headers and body leave in separate writes; with Nagle on, the client's delayed ACK stalls every answer
    # by ~40 ms. TCP_NODELAY also sends each SSE chunk the moment it is written.
    disable_nagle_algorithm = True
    server: EmulatorHTTPServer

    # ------------------------------------------------------------------ connection bookkeeping

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection)
        # The real edge sets its bot-management cookie on the first answer of a connection.
        self._cookie_sent = False

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass
        finally:
            self.server.untrack(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        """Stay silent: a test run must not get a stderr line per request."""

    def version_string(self) -> str:
        return SERVER_NAME

    def date_time_string(self, timestamp: float | None = None) -> str:
        # A seeded emulator dates its answers with its own clock so that they are reproducible.
        when = self.server.clock.peek() if timestamp is None and self.server.clock.seeded else timestamp
        return email.utils.formatdate(when, usegmt=True)

    # ------------------------------------------------------------------ request entry points

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def _serve(self) -> None:
        started = time.monotonic()
        try:
            body = self._read_body()
        except ValueError:
            self.send_error(400, "Malformed request body framing")
            self.close_connection = True
            return
        url = urlsplit(self.path)
        request = Request(
            method=self.command,
            path=url.path,
            query=parse_qs(url.query, keep_blank_values=True),
            headers={name.lower(): value for name, value in self.headers.items()},
            body=body,
            request_id=self.server.ids.request_id(),
        )
        try:
            response = self.server.api.handle(request)
        except Exception as exc:  # answered as the real API does; kept for the tests to inspect
            self.server.record(exc)
            response = JsonResponse(500, errors.server_error().body())
        if isinstance(response, StreamResponse):
            self._send_stream(response, started, request.request_id)
        else:
            self._send_json(response, started, request.headers.get("accept-encoding", ""), request.request_id)

    def _read_body(self) -> bytes:
        """Read the request body (``content-length`` or chunked) so the connection stays in sync."""
        if "chunked" in self.headers.get("transfer-encoding", "").lower():
            parts: list[bytes] = []
            while True:
                size_line = self.rfile.readline(1024)
                size = int(size_line.split(b";")[0].strip() or b"x", 16)
                if size < 0:
                    raise ValueError("negative chunk size")  # read(-1) would wait for the client to hang up
                if size == 0:
                    # Trailers end with an empty line.
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline(1024)
        length = int(self.headers.get("content-length") or 0)
        if length < 0:
            raise ValueError("negative content-length")
        return self.rfile.read(length) if length else b""

    # ------------------------------------------------------------------ responses

    def _common_headers(self, started: float, request_id: str) -> None:
        ids = self.server.ids
        clock = self.server.clock
        elapsed = ids.processing_ms() if clock.seeded else int((time.monotonic() - started) * 1000)
        self.send_header("connection", "close" if self.close_connection else "keep-alive")
        for name, value in _STATIC_HEADERS:
            self.send_header(name, value)
        self.send_header("openai-processing-ms", str(elapsed))
        # The proxy in front of the real service adds a few milliseconds to the processing time.
        self.send_header("x-envoy-upstream-service-time", str(elapsed + 3))
        self.send_header("x-request-id", request_id)
        self.send_header("cf-ray", f"{ids.hex(16)}-EMU")
        if not self._cookie_sent:
            self._cookie_sent = True
            now = clock.peek()
            expires = email.utils.formatdate(now + 1800, usegmt=True)
            self.send_header(
                "set-cookie",
                f"__cf_bm={ids.hex(32)}-{now}-1.0.1.1-emulator; path=/; expires={expires}; HttpOnly; Secure; "
                "SameSite=None",
            )

    def _send_json(
        self, response: JsonResponse, started: float, accept_encoding: str, request_id: str
    ) -> None:
        data = json.dumps(response.body, indent=2, ensure_ascii=False).encode("utf-8")
        compress = _accepts_gzip(accept_encoding)
        if compress:
            # mtime=0 keeps compressed bodies identical between runs of a seeded emulator.
            data = gzip.compress(data, mtime=0)
        try:
            self.send_response(response.status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            if compress:
                self.send_header("content-encoding", "gzip")
            for name, value in response.headers.items():
                self.send_header(name, value)
            self._common_headers(started, request_id)
            self.end_headers()
            self.wfile.write(data)
        except _DISCONNECTS:
            self.close_connection = True

    def _send_stream(self, response: StreamResponse, started: float, request_id: str) -> None:
        stream = response.stream
        try:
            self.send_response(200)
            self.send_header("content-type", "text/event-stream; charset=utf-8")
            self.send_header("transfer-encoding", "chunked")
            for name, value in response.headers.items():
                self.send_header(name, value)
            self._common_headers(started, request_id)
            self.end_headers()
            if not self._write_events(stream):
                # Cut on purpose: no terminating chunk, so the connection cannot be reused.
                self.close_connection = True
                return
            self.wfile.write(b"0\r\n\r\n")
        except _DISCONNECTS:
            self.close_connection = True
        finally:
            stream.close()

    def _write_events(self, stream: EventStream) -> bool:
        """Write the events, one chunk each; return False when the stream was cut short."""
        if stream.cut_after == 0:
            return False
        for written, event in enumerate(stream, start=1):
            if written > 1 and stream.event_delay > 0:
                time.sleep(stream.event_delay)
            data = event.encode()
            # Size line, payload and CRLF in one write: the socket writer is unbuffered, so each event leaves
            # as its own chunk right away.
            self.wfile.write(b"%x\r\n%b\r\n" % (len(data), data))
            if stream.cut_after is not None and written >= stream.cut_after:
                return False
        # With a cut larger than the stream, every event is written but the body still never terminates.
        return stream.cut_after is None


class EmulatorHTTPServer(ThreadingHTTPServer):
    """A :class:`ThreadingHTTPServer` that serves an :class:`Api` and can be stopped with connections open."""

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], api: Api, ids: IdFactory, clock: Clock) -> None:
        """Bind ``address`` (port 0 picks a free port) and serve ``api``."""
        self.api = api
        self.ids = ids
        self.clock = clock
        #: Unexpected exceptions raised while handling requests (each was answered with a 500).
        self.errors: list[BaseException] = []
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host name (socket.getfqdn), which can stall on hosts with slow
        # DNS; the emulator has no use for the name.
        TCPServer.server_bind(self)
        host, port = self.socket.getsockname()[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def track(self, connection: socket.socket) -> None:
        """Remember an open client connection (so :meth:`close_connections` can end it)."""
        with self._connections_lock:
            self._connections.add(connection)

    def untrack(self, connection: socket.socket) -> None:
        """Forget a client connection that closed."""
        with self._connections_lock:
            self._connections.discard(connection)

    def close_connections(self) -> None:
        """Shut every open client connection, waking handler threads blocked on an idle keep-alive socket."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def record(self, exc: BaseException) -> None:
        """Keep an unexpected exception for inspection instead of printing it."""
        self.errors.append(exc)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Swallow disconnects; keep anything else in :attr:`errors` (never print per request)."""
        exc = sys.exc_info()[1]
        if exc is None or isinstance(exc, OSError | ValueError):
            # OSError: the peer went away or the server is stopping. ValueError: I/O on a file the stopping
            # server already closed.
            return
        self.record(exc)
