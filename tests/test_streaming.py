"""Streams while recording and replaying, through real loopback sockets.

The first-event test is causal, not timed: the server sends one event and then waits until the client says it has
received it. A recorder that buffered the stream would make the client wait for the end, and the server would give up.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import httpx2
import pytest

from pytest_runs.activation import activate
from pytest_runs.session import Cassette

FRAMES = [f'event: tick\ndata: {{"n":{n},"text":"é"}}\n\n'.encode() for n in range(5)]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    first_received: threading.Event
    gave_up: bool

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that closes early makes the handler's writes fail; that is the point of those tests


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        if self.path == "/v1/done":
            self._send_done_then_hold()
            return
        self.send_response(200)
        self.send_header("content-type", "text/event-stream; charset=utf-8")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        for index, frame in enumerate(FRAMES):
            self.wfile.write(b"%x\r\n%s\r\n" % (len(frame), frame))
            self.wfile.flush()
            if index == 0 and not self.server.first_received.wait(timeout=5):
                self.server.gave_up = True
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _send_done_then_hold(self) -> None:
        """Two events and the end-of-stream event, then hold the connection open until the client has gone."""
        self.send_response(200)
        self.send_header("content-type", "text/event-stream; charset=utf-8")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        for frame in [*FRAMES[:2], b"event: done\ndata: [DONE]\n\n"]:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(frame), frame))
            self.wfile.flush()
        self.server.first_received.wait(timeout=5)


@pytest.fixture
def server() -> Iterator[_Server]:
    running = _Server(("127.0.0.1", 0), _Handler)
    running.first_received = threading.Event()
    running.gave_up = False
    thread = threading.Thread(target=running.serve_forever, daemon=True)
    thread.start()
    yield running
    running.shutdown()
    running.server_close()


@pytest.mark.parametrize("stack", [httpx, httpx2], ids=["httpx", "httpx2"])
def test_first_event_reaches_the_client_before_the_stream_ends(
    stack, server: _Server, tmp_path: Path
) -> None:
    url = f"http://127.0.0.1:{server.server_port}/v1/stream"
    cassette = Cassette(tmp_path / "stream.yaml", "once")
    with activate(cassette), stack.Client() as client, client.stream("GET", url) as response:
        chunks = []
        started = time.perf_counter()
        for chunk in response.iter_raw():
            if not chunks:
                first_latency = time.perf_counter() - started
                server.first_received.set()
            chunks.append(chunk)
    assert not server.gave_up, "the client got the first event only after the server gave up waiting"
    assert b"".join(chunks) == b"".join(FRAMES)
    assert cassette.save()
    print(f"first event after {first_latency * 1000:.1f} ms")

    # Replay gives the same bytes, one chunk per event.
    replay = Cassette(tmp_path / "stream.yaml", "none")
    with activate(replay), stack.Client() as client, client.stream("GET", url) as response:
        assert list(response.iter_raw()) == FRAMES


@pytest.mark.parametrize(("frames_read", "end"), [(3, "complete"), (1, "client_closed")])
def test_a_close_after_the_end_of_stream_event_records_a_complete_body(
    server: _Server, tmp_path: Path, frames_read: int, end: str
) -> None:
    """The SDK closes the response as soon as it reads ``[DONE]``, often before the final empty chunk arrives: that
    race must not decide what the cassette says (re-recording the same behaviour gives the same file)."""
    cassette = Cassette(tmp_path / "done.yaml", "once")
    url = f"http://127.0.0.1:{server.server_port}/v1/done"
    with activate(cassette), httpx.Client() as client, client.stream("GET", url) as response:
        received = b""
        for chunk in response.iter_raw():
            received += chunk
            if received.count(b"\n\n") == frames_read:
                break
    server.first_received.set()
    [interaction] = cassette.interactions
    assert interaction.response.end == end


def test_failed_recording_never_replaces_a_good_cassette(pytester: pytest.Pytester, server: _Server) -> None:
    server.first_received.set()
    pytester.makepyfile(
        f"""
        import os
        import httpx
        import pytest

        @pytest.mark.runs_cassette
        def test_stream():
            events = httpx.get("http://127.0.0.1:{server.server_port}/v1/stream").text.count("event:")
            assert events == int(os.environ.get("EXPECTED", "5"))
        """
    )
    pytester.runpytest("--runs-record-mode=once").assert_outcomes(passed=1)
    path = (
        pytester.path
        / "cassettes"
        / "test_failed_recording_never_replaces_a_good_cassette"
        / "test_stream.yaml"
    )
    good = path.read_bytes()

    pytester._monkeypatch.setenv("EXPECTED", "6")
    failed = pytester.runpytest("--runs-record-mode=rewrite")
    failed.assert_outcomes(failed=1)
    failed.stdout.fnmatch_lines(
        [
            "recording discarded because the test did not pass: "
            "test_failed_recording_never_replaces_a_good_cassette.py::test_stream: 1 recorded interaction(s) not "
            "saved (any existing cassette was left as it was)"
        ]
    )
    assert path.read_bytes() == good
    assert [p.name for p in path.parent.iterdir()] == ["test_stream.yaml"]  # no temporary file left behind


def test_interrupted_write_leaves_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pytest_runs import storage

    path = tmp_path / "cassette.yaml"
    path.write_text("old and good")

    def crash(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(storage.os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        storage.write_atomic(path, "new")
    assert path.read_text() == "old and good"
    assert [p.name for p in tmp_path.iterdir()] == ["cassette.yaml"]
