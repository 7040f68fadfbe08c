"""The Assistants emulator, exercised through real loopback sockets: raw HTTP for framing, the SDK for behaviour."""

from __future__ import annotations

import gzip
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from pytest_runs.emulator import Emulator
from pytest_runs.emulator.errors import mask_api_key
from pytest_runs.emulator.scenarios import Scenario, parse_scenario, plan_run, split_reply
from sdk_handlers import AsyncEventRecorder, EventRecorder

# Deliberate fakes, assembled so that no key-shaped literal sits in the source.
FAKE_RIGHT_KEY = "sk" + "-right-key-0123456789"

# Every Assistants call of the SDK warns that the API is deprecated.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

AUTH = {"Authorization": "Bearer test-key"}
RUN_EVENTS = [
    "thread.run.created",
    "thread.run.queued",
    "thread.run.in_progress",
    "thread.run.step.created",
    "thread.run.step.in_progress",
    "thread.message.created",
    "thread.message.in_progress",
]
RUN_TAIL = ["thread.message.completed", "thread.run.step.completed", "thread.run.completed", "done"]
TOOL_EVENTS = [
    "thread.run.created",
    "thread.run.queued",
    "thread.run.in_progress",
    "thread.run.step.created",
    "thread.run.step.in_progress",
    "thread.run.step.delta",
    "thread.run.step.delta",
    "thread.run.requires_action",
    "done",
]
WEATHER_TOOL = {"type": "function", "function": {"name": "get_weather", "description": "Weather now"}}


# --------------------------------------------------------------------------- fixtures and helpers


@pytest.fixture
def emu() -> Iterator[Emulator]:
    """A fast emulator; the test fails if any request raised inside the server."""
    with Emulator(event_delay=0, poll_after_ms=0) as emulator:
        yield emulator
        assert emulator.errors == []


@pytest.fixture
def client(emu: Emulator) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=emu.base_url, api_key="test-key", max_retries=0) as sdk:
        yield sdk


class Http:
    """A keep-alive ``http.client`` connection speaking JSON to the emulator."""

    def __init__(self, emu: Emulator) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", emu.port, timeout=10)

    def call(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[http.client.HTTPResponse, bytes]:
        sent = {**AUTH, "Content-Type": "application/json", **(headers or {})}
        payload = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        self.conn.request(method, "/v1" + path, body=payload, headers=sent)
        response = self.conn.getresponse()
        return response, response.read()

    def json(self, method: str, path: str, body: Any = None, status: int = 200) -> Any:
        response, data = self.call(method, path, body)
        assert response.status == status, data
        return json.loads(data)


@pytest.fixture
def raw(emu: Emulator) -> Iterator[Http]:
    connection = Http(emu)
    yield connection
    connection.conn.close()


def raw_exchange(
    port: int, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
) -> bytes:
    """Send one request with ``Connection: close`` and return every byte the server wrote."""
    payload = json.dumps(body).encode() if body is not None else b""
    lines = [
        f"{method} /v1{path} HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Authorization: Bearer test-key",
        "Content-Type: application/json",
        f"Content-Length: {len(payload)}",
        "Connection: close",
        *(f"{k}: {v}" for k, v in (headers or {}).items()),
    ]
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall("\r\n".join(lines).encode() + b"\r\n\r\n" + payload)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return received


def split_http(raw_bytes: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = raw_bytes.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode().split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in header_lines)}
    return int(status_line.split()[1]), headers, body


def parse_chunks(body: bytes) -> tuple[list[bytes], bool]:
    """Decode a chunked body by hand; return the chunk payloads and whether the terminating chunk arrived."""
    chunks = []
    rest = body
    while rest:
        size_line, sep, rest = rest.partition(b"\r\n")
        if not sep:
            break
        size = int(size_line, 16)
        if size == 0:
            return chunks, rest == b"\r\n"
        chunks.append(rest[:size])
        assert rest[size : size + 2] == b"\r\n"
        rest = rest[size + 2 :]
    return chunks, False


def event_names(chunks: list[bytes]) -> list[str]:
    names = []
    for chunk in chunks:
        match = re.fullmatch(rb"event: ([a-z._]+)\ndata: ([^\n]+)\n\n", chunk)
        assert match is not None, chunk
        names.append(match.group(1).decode())
    return names


def event_payloads(chunks: list[bytes]) -> list[Any]:
    return [
        json.loads(chunk.split(b"\ndata: ", 1)[1]) for chunk in chunks if not chunk.endswith(b"[DONE]\n\n")
    ]


def setup_thread(raw: Http, tools: list[dict[str, Any]] | None = None) -> tuple[str, str]:
    assistant = raw.json("POST", "/assistants", {"model": "gpt-4o", "tools": tools or []})
    thread = raw.json("POST", "/threads", {"messages": [{"role": "user", "content": "Hello?"}]})
    return assistant["id"], thread["id"]


# --------------------------------------------------------------------------- framing (raw HTTP)


def test_stream_is_chunked_one_event_per_chunk_and_terminated(emu: Emulator, raw: Http) -> None:
    assistant_id, thread_id = setup_thread(raw)
    received = raw_exchange(
        emu.port,
        "POST",
        f"/threads/{thread_id}/runs",
        {"assistant_id": assistant_id, "stream": True},
        {"Accept-Encoding": "gzip, deflate"},
    )
    status, headers, body = split_http(received)
    assert status == 200
    assert headers["content-type"] == "text/event-stream; charset=utf-8"
    assert headers["transfer-encoding"] == "chunked"
    assert "content-encoding" not in headers  # streams are never compressed
    assert "content-length" not in headers
    assert headers["openai-version"] == "2020-10-01"
    assert headers["openai-organization"] == "user-emulator"
    assert re.fullmatch(r"req_[0-9a-f]{32}", headers["x-request-id"])
    assert headers["openai-processing-ms"].isdigit()
    assert headers["server"] == "pytest-runs-emulator"
    assert headers["date"].endswith(" GMT")
    chunks, terminated = parse_chunks(body)
    assert terminated
    reply_deltas = ["thread.message.delta"] * 4  # "Hello", " from", " the", " emulator."
    assert event_names(chunks) == RUN_EVENTS + reply_deltas + RUN_TAIL
    assert chunks[-1] == b"event: done\ndata: [DONE]\n\n"
    # Compact JSON in the real key order.
    assert chunks[0].startswith(b'event: thread.run.created\ndata: {"id":"run_')
    assert b'","object":"thread.run","created_at":' in chunks[0]


def test_stream_payload_shapes_match_the_real_api(emu: Emulator, raw: Http) -> None:
    assistant_id, thread_id = setup_thread(raw)
    body = {"assistant_id": assistant_id, "stream": True, "metadata": {"emulator_reply": "Olá mundo"}}
    _, _, data = split_http(raw_exchange(emu.port, "POST", f"/threads/{thread_id}/runs", body))
    chunks, _ = parse_chunks(data)
    assert "Olá".encode() in b"".join(chunks)  # raw UTF-8, no \u escapes
    payloads = event_payloads(chunks)
    run = payloads[0]
    assert list(run) == [
        "id", "object", "created_at", "assistant_id", "thread_id", "status", "started_at", "expires_at",
        "cancelled_at", "failed_at", "completed_at", "required_action", "last_error", "model", "instructions",
        "tools", "tool_resources", "metadata", "temperature", "top_p", "reasoning_effort", "max_completion_tokens",
        "max_prompt_tokens", "truncation_strategy", "incomplete_details", "usage", "response_format",
        "tool_choice", "parallel_tool_calls",
    ]  # fmt: skip
    assert run["expires_at"] == run["created_at"] + 600
    assert run["truncation_strategy"] == {"type": "auto", "last_messages": None}
    assert (run["response_format"], run["tool_choice"], run["parallel_tool_calls"]) == ("auto", "auto", True)
    step = payloads[3]
    assert step["object"] == "thread.run.step"
    assert step["step_details"] == {
        "type": "message_creation",
        "message_creation": {"message_id": payloads[5]["id"]},
    }
    first_delta, second_delta = payloads[7], payloads[8]
    assert first_delta == {
        "id": payloads[5]["id"],
        "object": "thread.message.delta",
        "delta": {"content": [{"index": 0, "type": "text", "text": {"value": "Olá", "annotations": []}}]},
    }
    # As on the real wire, only the first delta of a text part carries the annotations list.
    assert second_delta["delta"]["content"][0]["text"] == {"value": " mundo"}
    completed = payloads[-1]
    assert completed["status"] == "completed"
    assert completed["expires_at"] is None
    assert completed["usage"]["total_tokens"] == completed["usage"]["prompt_tokens"] + 2


def test_cut_after_drops_connection_mid_body(emu: Emulator, raw: Http) -> None:
    assistant_id, thread_id = setup_thread(raw)
    body = {"assistant_id": assistant_id, "stream": True, "metadata": {"emulator_cut_after": "3"}}
    _, headers, data = split_http(raw_exchange(emu.port, "POST", f"/threads/{thread_id}/runs", body))
    assert headers["transfer-encoding"] == "chunked"
    chunks, terminated = parse_chunks(data)
    assert not terminated
    assert event_names(chunks) == RUN_EVENTS[:3]
    assert not data.endswith(b"0\r\n\r\n")

    # http.client sees an incomplete chunked body (a fresh thread: the cut run is still active).
    other_thread = raw.json("POST", "/threads", {})["id"]
    conn = http.client.HTTPConnection("127.0.0.1", emu.port, timeout=10)
    conn.request("POST", f"/v1/threads/{other_thread}/runs", body=json.dumps(body), headers=AUTH)
    response = conn.getresponse()
    assert response.status == 200
    with pytest.raises(http.client.IncompleteRead):
        response.read()
    conn.close()


def test_cut_run_is_left_in_progress_and_polling_finishes_it(emu: Emulator, raw: Http) -> None:
    assistant_id, thread_id = setup_thread(raw)
    body = {"assistant_id": assistant_id, "stream": True, "metadata": {"emulator_cut_after": "6"}}
    _, _, data = split_http(raw_exchange(emu.port, "POST", f"/threads/{thread_id}/runs", body))
    chunks, _ = parse_chunks(data)
    run_id = event_payloads(chunks)[0]["id"]
    assert event_names(chunks)[-1] == "thread.message.created"
    messages = raw.json("GET", f"/threads/{thread_id}/messages")["data"]
    assert (messages[0]["role"], messages[0]["status"], messages[0]["content"]) == (
        "assistant",
        "in_progress",
        [],
    )
    statuses = [raw.json("GET", f"/threads/{thread_id}/runs/{run_id}")["status"] for _ in range(3)]
    assert statuses == ["in_progress", "completed", "completed"]
    messages = raw.json("GET", f"/threads/{thread_id}/messages")["data"]
    assert len(messages) == 2  # the message the stream began was finished, not duplicated
    assert messages[0]["content"][0]["text"]["value"] == "Hello from the emulator."


def test_json_bodies_are_gzipped_when_asked(raw: Http) -> None:
    response, data = raw.call("POST", "/threads", {}, {"Accept-Encoding": "gzip, deflate, br"})
    assert response.getheader("content-encoding") == "gzip"
    assert int(response.getheader("content-length") or -1) == len(data)
    text = gzip.decompress(data).decode()
    assert text.startswith('{\n  "id": "thread_')
    assert json.loads(text)["object"] == "thread"

    response, data = raw.call("POST", "/threads", {}, {"Accept-Encoding": "identity"})
    assert response.getheader("content-encoding") is None
    assert int(response.getheader("content-length") or -1) == len(data)
    assert data.startswith(b'{\n  "id": "thread_')

    response, _ = raw.call("POST", "/threads", {}, {"Accept-Encoding": "gzip;q=0, identity"})
    assert response.getheader("content-encoding") is None


def test_keep_alive_serves_many_requests_on_one_connection(raw: Http) -> None:
    assistant_id, thread_id = setup_thread(raw)
    response, data = raw.call(
        "POST", f"/threads/{thread_id}/runs", {"assistant_id": assistant_id, "stream": True}
    )
    assert response.getheader("connection") == "keep-alive"
    assert data.endswith(b"event: done\ndata: [DONE]\n\n")
    # The same socket, after a streamed response.
    runs = raw.json("GET", f"/threads/{thread_id}/runs")
    assert [run["status"] for run in runs["data"]] == ["completed"]


def test_missing_api_key_is_401(emu: Emulator, raw: Http) -> None:
    response, data = raw.call("POST", "/threads", {}, {"Authorization": ""})
    assert response.status == 401
    assert response.getheader("www-authenticate") == 'Bearer realm="OpenAI API"'
    error = json.loads(data)["error"]
    assert error["message"].startswith("You didn't provide an API key. You need to provide your API key")
    assert (error["type"], error["param"], error["code"]) == ("invalid_request_error", None, None)
    response, _ = raw.call("GET", "/threads/thread_x", headers={"Authorization": "Basic abc"})
    assert response.status == 401


def test_wrong_api_key_is_401_with_masked_key() -> None:
    with Emulator(api_key=FAKE_RIGHT_KEY) as emu:
        conn = Http(emu)
        wrong = "sk" + "-abcdefghijklmnopqrstuvwxyz"
        response, data = conn.call("POST", "/threads", {}, {"Authorization": f"Bearer {wrong}"})
        assert response.status == 401
        error = json.loads(data)["error"]
        assert error == {
            "message": "Incorrect API key provided: "
            + "sk-"
            + "abc*******************wxyz. You can find your API key at "
            "https://platform.openai.com/account/api-keys.",
            "type": "invalid_request_error",
            "param": None,
            "code": "invalid_api_key",
        }
        assert wrong not in data.decode()
        response, _ = conn.call("POST", "/threads", {}, {"Authorization": "Bearer " + FAKE_RIGHT_KEY})
        assert response.status == 200
        conn.conn.close()


def test_mask_api_key_never_reveals_short_keys() -> None:
    assert mask_api_key("test-key") == "te****ey"
    assert mask_api_key("abc") == "***"
    assert mask_api_key("sk" + "-proj-0123456789abcdefXYZW") == "sk-pro" + "*" * 18 + "XYZW"


@pytest.mark.parametrize(
    ("method", "path", "message"),
    [
        ("GET", "/threads/thread_nope", "No thread found with id 'thread_nope'."),
        ("GET", "/assistants/asst_nope", "No assistant found with id 'asst_nope'."),
        ("POST", "/threads/thread_nope/messages", "No thread found with id 'thread_nope'."),
        ("GET", "/nowhere", "Invalid URL (GET /v1/nowhere)"),
        ("DELETE", "/threads", "Invalid URL (DELETE /v1/threads)"),
    ],
)
def test_not_found_bodies(raw: Http, method: str, path: str, message: str) -> None:
    response, data = raw.call(method, path, {"role": "user", "content": "x"} if method == "POST" else None)
    assert response.status == 404
    assert json.loads(data) == {
        "error": {"message": message, "type": "invalid_request_error", "param": None, "code": None}
    }
    assert data.startswith(b'{\n  "error": {\n    "message": ')  # pretty-printed like the real API


def test_unknown_run_and_step_are_404(raw: Http) -> None:
    _, thread_id = setup_thread(raw)
    error = raw.json("GET", f"/threads/{thread_id}/runs/run_nope", status=404)["error"]
    assert error["message"] == "No run found with id 'run_nope'."


def test_bad_json_is_400(raw: Http) -> None:
    response, data = raw.call("POST", "/threads", b"{not json")
    assert response.status == 400
    error = json.loads(data)["error"]
    assert error["message"].startswith("We could not parse the JSON body of your request.")
    assert error["type"] == "invalid_request_error"
    response, _ = raw.call("POST", "/threads", b"[1, 2]")
    assert response.status == 400


def test_missing_parameter_is_400(raw: Http) -> None:
    _, thread_id = setup_thread(raw)
    error = raw.json("POST", f"/threads/{thread_id}/runs", {}, status=400)["error"]
    assert error == {
        "message": "Missing required parameter: 'assistant_id'.",
        "type": "invalid_request_error",
        "param": "assistant_id",
        "code": "missing_required_parameter",
    }


def test_active_run_blocks_a_second_run(raw: Http) -> None:
    assistant_id, thread_id = setup_thread(raw)
    run = raw.json("POST", f"/threads/{thread_id}/runs", {"assistant_id": assistant_id})
    error = raw.json("POST", f"/threads/{thread_id}/runs", {"assistant_id": assistant_id}, status=400)[
        "error"
    ]
    assert error["message"] == f"Thread {thread_id} already has an active run {run['id']}."
    assert error["type"] == "invalid_request_error"


def test_tool_outputs_rejected_unless_requires_action(raw: Http) -> None:
    assistant_id, thread_id = setup_thread(raw, [WEATHER_TOOL])
    run = raw.json("POST", f"/threads/{thread_id}/runs", {"assistant_id": assistant_id})
    path = f"/threads/{thread_id}/runs/{run['id']}"
    outputs = {"tool_outputs": [{"tool_call_id": "call_x", "output": "1"}]}
    error = raw.json("POST", path + "/submit_tool_outputs", outputs, status=400)["error"]
    assert error["message"] == 'Runs in status "queued" do not accept tool outputs.'
    assert raw.json("GET", path)["status"] == "in_progress"
    error = raw.json("POST", path + "/submit_tool_outputs", outputs, status=400)["error"]
    assert error["message"] == 'Runs in status "in_progress" do not accept tool outputs.'
    run = raw.json("GET", path)
    assert run["status"] == "requires_action"
    call_id = run["required_action"]["submit_tool_outputs"]["tool_calls"][0]["id"]
    error = raw.json("POST", path + "/submit_tool_outputs", outputs, status=400)["error"]
    assert error["message"] == f"Expected tool outputs for call_ids ['{call_id}'], got ['call_x']."


def test_cancel_of_a_finished_run_is_400(raw: Http) -> None:
    assistant_id, thread_id = setup_thread(raw)
    body = {"assistant_id": assistant_id, "metadata": {"emulator_polls": "0"}}
    run = raw.json("POST", f"/threads/{thread_id}/runs", body)
    assert raw.json("GET", f"/threads/{thread_id}/runs/{run['id']}")["status"] == "completed"
    error = raw.json("POST", f"/threads/{thread_id}/runs/{run['id']}/cancel", status=400)["error"]
    assert error["message"] == "Cannot cancel run with status 'completed'."


def test_invalid_knob_is_400(raw: Http) -> None:
    assistant_id, thread_id = setup_thread(raw)
    body = {"assistant_id": assistant_id, "metadata": {"emulator_polls": "many"}}
    error = raw.json("POST", f"/threads/{thread_id}/runs", body, status=400)["error"]
    assert error["param"] == "metadata"
    assert "emulator_polls" in error["message"]


def test_poll_after_header_on_run_responses(raw: Http) -> None:
    assistant_id, thread_id = setup_thread(raw)
    body = {"assistant_id": assistant_id, "metadata": {"emulator_poll_after_ms": "250"}}
    response, data = raw.call("POST", f"/threads/{thread_id}/runs", body)
    assert response.getheader("openai-poll-after-ms") == "250"
    run_id = json.loads(data)["id"]
    response, _ = raw.call("GET", f"/threads/{thread_id}/runs/{run_id}")
    assert response.getheader("openai-poll-after-ms") == "250"
    response, _ = raw.call("POST", f"/threads/{thread_id}/runs/{run_id}/cancel")
    assert response.getheader("openai-poll-after-ms") == "250"
    response, _ = raw.call("GET", f"/threads/{thread_id}")
    assert response.getheader("openai-poll-after-ms") is None


def test_default_poll_after_header_comes_from_the_constructor() -> None:
    with Emulator(poll_after_ms=1234) as emu:
        conn = Http(emu)
        assistant_id, thread_id = setup_thread(conn)
        response, _ = conn.call("POST", f"/threads/{thread_id}/runs", {"assistant_id": assistant_id})
        assert response.getheader("openai-poll-after-ms") == "1234"
        conn.conn.close()


def test_client_disconnect_mid_stream_is_quiet(
    emu: Emulator, raw: Http, capfd: pytest.CaptureFixture[str]
) -> None:
    assistant_id, thread_id = setup_thread(raw)
    body = json.dumps(
        {"assistant_id": assistant_id, "stream": True, "metadata": {"emulator_event_delay_ms": "20"}}
    )
    request = (
        f"POST /v1/threads/{thread_id}/runs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer k\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n{body}"
    )
    with socket.create_connection(("127.0.0.1", emu.port), timeout=10) as sock:
        sock.sendall(request.encode())
        received = b""
        while b"thread.run.created" not in received:
            received += sock.recv(65536)
        # Abortive close (RST) while the server is still writing.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    time.sleep(0.3)
    # The server still answers, and wrote nothing to stderr.
    runs = raw.json("GET", f"/threads/{thread_id}/runs")
    assert len(runs["data"]) == 1
    captured = capfd.readouterr()
    assert captured.err == ""
    assert emu.errors == []


def test_stop_does_not_hang_on_idle_keep_alive_connections() -> None:
    emu = Emulator().start()
    conn = Http(emu)
    conn.json("POST", "/threads", {})  # leaves an idle keep-alive connection open
    stopper = threading.Thread(target=emu.stop)
    stopper.start()
    stopper.join(timeout=10)
    assert not stopper.is_alive()
    assert not emu.running
    emu.stop()  # idempotent
    with pytest.raises(OSError):
        conn.conn.request("GET", "/v1/threads/x", headers=AUTH)
        conn.conn.getresponse()


def test_emulator_facade() -> None:
    emu = Emulator(port=0)
    assert not emu.running
    assert emu.start() is emu
    assert emu.start() is emu  # starting twice is harmless
    assert emu.running
    assert emu.port > 0
    assert emu.base_url == f"http://127.0.0.1:{emu.port}/v1"
    assert repr(emu) == f"<Emulator {emu.base_url} seed=None>"
    emu.stop()
    with Emulator() as other:
        assert other.running
    assert not other.running


# --------------------------------------------------------------------------- determinism


def scripted_session(emu: Emulator) -> list[tuple[int, dict[str, str], bytes]]:
    """A fixed call sequence; returns status, headers and body of every answer."""
    answers = []
    conn = Http(emu)

    def call(method: str, path: str, body: Any = None) -> Any:
        response, data = conn.call(method, path, body)
        answers.append((response.status, dict(response.getheaders()), data))
        return json.loads(data) if data.startswith(b"{") else None

    assistant = call("POST", "/assistants", {"model": "gpt-4o", "tools": [WEATHER_TOOL]})
    thread = call("POST", "/threads", {"messages": [{"role": "user", "content": "Weather?"}]})
    run = call("POST", f"/threads/{thread['id']}/runs", {"assistant_id": assistant["id"]})
    for _ in range(2):
        run = call("GET", f"/threads/{thread['id']}/runs/{run['id']}")
    call_id = run["required_action"]["submit_tool_outputs"]["tool_calls"][0]["id"]
    outputs = {"tool_outputs": [{"tool_call_id": call_id, "output": "sunny"}], "stream": True}
    call("POST", f"/threads/{thread['id']}/runs/{run['id']}/submit_tool_outputs", outputs)
    call("GET", f"/threads/{thread['id']}/messages")
    call("POST", "/threads/runs", {"assistant_id": assistant["id"], "tools": [], "stream": True})
    conn.conn.close()
    return answers


def test_same_seed_gives_identical_answers() -> None:
    # A seed from the command line is a string; it means the same as the number.
    with Emulator(seed=42, event_delay=0) as first, Emulator(seed="42", event_delay=0) as second:
        one, two = scripted_session(first), scripted_session(second)
    assert one == two
    assert b'"created_at": 1700000000' in one[0][2]
    assert json.loads(one[0][2])["id"] == json.loads(two[0][2])["id"]


def test_different_or_no_seed_gives_different_ids() -> None:
    with Emulator(seed=1, event_delay=0) as first, Emulator(seed=2, event_delay=0) as second:
        one, two = scripted_session(first), scripted_session(second)
    assert json.loads(one[0][2])["id"] != json.loads(two[0][2])["id"]
    before = int(time.time())
    with Emulator(event_delay=0) as unseeded:
        assistant = json.loads(scripted_session(unseeded)[0][2])
    assert re.fullmatch(r"asst_[A-Za-z0-9]{24}", assistant["id"])
    assert before <= assistant["created_at"] <= int(time.time())


def test_seeded_timestamps_advance_by_one() -> None:
    with Emulator(seed="s") as emu:
        conn = Http(emu)
        stamps = [conn.json("POST", "/threads", {})["created_at"] for _ in range(3)]
        conn.conn.close()
    assert stamps == [1_700_000_000, 1_700_000_001, 1_700_000_002]


# --------------------------------------------------------------------------- the SDK, sync


def test_assistants_threads_and_messages(client: openai.OpenAI) -> None:
    assistant = client.beta.assistants.create(
        model="gpt-4o", name="Helper", instructions="Be brief.", tools=[WEATHER_TOOL], metadata={"k": "v"}
    )
    assert assistant.id.startswith("asst_")
    fetched = client.beta.assistants.retrieve(assistant.id)
    assert (fetched.name, fetched.instructions, fetched.model, fetched.metadata) == (
        "Helper",
        "Be brief.",
        "gpt-4o",
        {"k": "v"},
    )
    tool = fetched.tools[0]
    assert tool.type == "function"
    assert tool.function.name == "get_weather"
    assert tool.function.parameters == {"type": "object", "properties": {}}

    thread = client.beta.threads.create(messages=[{"role": "user", "content": "first"}], metadata={"a": "b"})
    assert client.beta.threads.retrieve(thread.id).metadata == {"a": "b"}
    second = client.beta.threads.messages.create(thread_id=thread.id, role="user", content="second")
    third = client.beta.threads.messages.create(
        thread_id=thread.id, role="user", content=[{"type": "text", "text": "third"}]
    )
    assert second.content[0].type == "text"
    assert second.content[0].text.value == "second"

    def texts(page: Any) -> list[str]:
        return [m.content[0].text.value for m in page.data]

    assert texts(client.beta.threads.messages.list(thread_id=thread.id)) == ["third", "second", "first"]
    assert texts(client.beta.threads.messages.list(thread_id=thread.id, order="asc")) == [
        "first",
        "second",
        "third",
    ]
    page = client.beta.threads.messages.list(thread_id=thread.id, limit=1)
    assert (texts(page), page.has_more, page.first_id, page.last_id) == (["third"], True, third.id, third.id)
    page = client.beta.threads.messages.list(thread_id=thread.id, after=third.id, limit=1)
    assert texts(page) == ["second"]
    assert texts(client.beta.threads.messages.list(thread_id=thread.id, after=second.id)) == ["first"]
    # Auto-pagination follows after= cursors.
    assert [m.id for m in client.beta.threads.messages.list(thread_id=thread.id, limit=1)] == [
        third.id,
        second.id,
        client.beta.threads.messages.list(thread_id=thread.id, order="asc").data[0].id,
    ]
    assert client.beta.threads.messages.retrieve(second.id, thread_id=thread.id).id == second.id


def test_polling_state_machine(client: openai.OpenAI) -> None:
    assistant = client.beta.assistants.create(model="gpt-4o", instructions="Be kind.")
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "Hi"}])
    run = client.beta.threads.runs.create(
        thread_id=thread.id, assistant_id=assistant.id, metadata={"emulator_polls": "2"}
    )
    assert (run.status, run.started_at, run.usage) == ("queued", None, None)
    assert run.expires_at == run.created_at + 600
    assert (run.model, run.instructions) == ("gpt-4o", "Be kind.")  # defaults from the assistant
    seen = [client.beta.threads.runs.retrieve(run.id, thread_id=thread.id) for _ in range(4)]
    assert [r.status for r in seen] == ["in_progress", "in_progress", "completed", "completed"]
    assert seen[0].started_at is not None
    done = seen[2]
    assert done.expires_at is None
    assert done.completed_at is not None
    assert done.usage is not None
    assert done.usage.total_tokens == done.usage.prompt_tokens + done.usage.completion_tokens
    assert done.usage.completion_tokens == 4
    messages = client.beta.threads.messages.list(thread_id=thread.id)
    reply = messages.data[0]
    assert (reply.role, reply.run_id, reply.assistant_id) == ("assistant", run.id, assistant.id)
    assert reply.content[0].text.value == "Hello from the emulator."
    steps = client.beta.threads.runs.steps.list(run.id, thread_id=thread.id)
    assert [s.type for s in steps.data] == ["message_creation"]
    assert steps.data[0].status == "completed"
    assert steps.data[0].step_details.message_creation.message_id == reply.id
    assert steps.data[0].usage is not None
    assert steps.data[0].usage.model_dump() == done.usage.model_dump()  # the run's only step
    assert client.beta.threads.runs.steps.retrieve(
        steps.data[0].id, thread_id=thread.id, run_id=run.id
    ).id == (steps.data[0].id)


def test_run_params_override_the_assistant(client: openai.OpenAI) -> None:
    assistant = client.beta.assistants.create(model="gpt-4o", instructions="A", tools=[WEATHER_TOOL])
    thread = client.beta.threads.create()
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id,
        assistant_id=assistant.id,
        model="gpt-4.1",
        instructions="B",
        tools=[],
        temperature=0.5,
        max_completion_tokens=64,
        additional_messages=[{"role": "user", "content": "extra"}],
    )
    assert (run.model, run.instructions, run.tools, run.temperature) == ("gpt-4.1", "B", [], 0.5)
    assert run.max_completion_tokens == 64
    assert run.status == "completed"  # no function tool on the run: plain reply
    texts = [
        m.content[0].text.value for m in client.beta.threads.messages.list(thread_id=thread.id, order="asc")
    ]
    assert texts == ["extra", "Hello from the emulator."]
    listed = client.beta.threads.runs.list(thread_id=thread.id)
    assert [r.id for r in listed.data] == [run.id]


def test_create_and_poll_with_raw_poll_header(client: openai.OpenAI) -> None:
    assistant = client.beta.assistants.create(model="gpt-4o")
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "Hi"}])
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, metadata={"emulator_reply": "Custom reply"}
    )
    assert run.status == "completed"
    raw_run = client.beta.threads.runs.with_raw_response.retrieve(run.id, thread_id=thread.id)
    assert raw_run.headers["openai-poll-after-ms"] == "0"
    assert raw_run.headers["x-request-id"].startswith("req_")
    assert (
        client.beta.threads.messages.list(thread_id=thread.id).data[0].content[0].text.value == "Custom reply"
    )


def test_stream_true_event_sequence(client: openai.OpenAI) -> None:
    assistant = client.beta.assistants.create(model="gpt-4o")
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "Hi"}])
    stream = client.beta.threads.runs.create(
        thread_id=thread.id, assistant_id=assistant.id, stream=True, metadata={"emulator_deltas": "3"}
    )
    events = list(stream)
    names = [event.event for event in events]
    assert names == RUN_EVENTS + ["thread.message.delta"] * 3 + RUN_TAIL[:-1]
    deltas = [e.data.delta.content[0].text.value for e in events if e.event == "thread.message.delta"]
    assert "".join(deltas) == "Hello from the emulator."
    assert split_reply("Hello from the emulator.", 3) == deltas
    final = events[-1].data
    assert final.status == "completed"
    # The state after the stream is what the events announced.
    assert client.beta.threads.runs.retrieve(final.id, thread_id=thread.id).status == "completed"
    assert client.beta.threads.messages.list(thread_id=thread.id).data[0].content[0].text.value == (
        "Hello from the emulator."
    )


def test_runs_stream_with_event_handler(client: openai.OpenAI) -> None:
    assistant = client.beta.assistants.create(model="gpt-4o")
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "Hi"}])
    handler = EventRecorder()
    with client.beta.threads.runs.stream(
        thread_id=thread.id, assistant_id=assistant.id, event_handler=handler
    ) as s:
        s.until_done()
        final = s.get_final_run()
        messages = s.get_final_messages()
    assert final.status == "completed"
    assert handler.text == "Hello from the emulator."
    assert handler.done_messages == ["Hello from the emulator."]
    assert handler.events[:3] == ["thread.run.created", "thread.run.queued", "thread.run.in_progress"]
    assert handler.events[-1] == "thread.run.completed"
    assert [m.content[0].text.value for m in messages] == ["Hello from the emulator."]


def test_function_tool_stream_then_submit_tool_outputs_stream(client: openai.OpenAI) -> None:
    assistant = client.beta.assistants.create(model="gpt-4o", tools=[WEATHER_TOOL])
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "Weather?"}])
    handler = EventRecorder()
    with client.beta.threads.runs.stream(
        thread_id=thread.id, assistant_id=assistant.id, event_handler=handler
    ) as s:
        s.until_done()
        run = s.get_final_run()
    assert handler.events == TOOL_EVENTS[:-1]
    assert handler.functions == ["get_weather"]
    assert run.status == "requires_action"
    assert run.required_action is not None
    call = run.required_action.submit_tool_outputs.tool_calls[0]
    assert call.id.startswith("call_")
    assert (call.type, call.function.name, call.function.arguments) == ("function", "get_weather", "{}")
    # The stream left the run where its events said.
    assert client.beta.threads.runs.retrieve(run.id, thread_id=thread.id).status == "requires_action"

    after = EventRecorder()
    with client.beta.threads.runs.submit_tool_outputs_stream(
        thread_id=thread.id,
        run_id=run.id,
        tool_outputs=[{"tool_call_id": call.id, "output": "sunny"}],
        event_handler=after,
    ) as s:
        s.until_done()
        final = s.get_final_run()
    assert after.events[:3] == ["thread.run.step.completed", "thread.run.queued", "thread.run.in_progress"]
    assert after.events[-1] == "thread.run.completed"
    assert after.text == "Tool output received: sunny"
    assert final.status == "completed"
    steps = client.beta.threads.runs.steps.list(run.id, thread_id=thread.id, order="asc").data
    assert [(s.type, s.status) for s in steps] == [
        ("tool_calls", "completed"),
        ("message_creation", "completed"),
    ]
    tool_call = steps[0].step_details.tool_calls[0]
    assert (tool_call.id, tool_call.function.output) == (call.id, "sunny")
    assert final.usage is not None
    assert final.usage.total_tokens == sum(s.usage.total_tokens for s in steps if s.usage)


def test_submit_tool_outputs_and_poll(client: openai.OpenAI) -> None:
    assistant = client.beta.assistants.create(model="gpt-4o")
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "Weather?"}])
    # The run's tools decide, not the assistant's.
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, tools=[WEATHER_TOOL]
    )
    assert run.status == "requires_action"
    assert run.required_action is not None
    call = run.required_action.submit_tool_outputs.tool_calls[0]
    queued = client.beta.threads.runs.submit_tool_outputs(
        run.id, thread_id=thread.id, tool_outputs=[{"tool_call_id": call.id, "output": "21 C"}]
    )
    assert (queued.status, queued.required_action) == ("queued", None)
    done = client.beta.threads.runs.poll(run.id, thread_id=thread.id)
    assert done.status == "completed"
    assert client.beta.threads.messages.list(thread_id=thread.id).data[0].content[0].text.value == (
        "Tool output received: 21 C"
    )
    # And the helper, on a second run.
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, tools=[WEATHER_TOOL]
    )
    call = run.required_action.submit_tool_outputs.tool_calls[0]
    done = client.beta.threads.runs.submit_tool_outputs_and_poll(
        run_id=run.id, thread_id=thread.id, tool_outputs=[{"tool_call_id": call.id, "output": "42"}]
    )
    assert done.status == "completed"
    assert client.beta.threads.messages.list(thread_id=thread.id).data[0].content[0].text.value == (
        "Tool output received: 42"
    )


def test_tool_choice_none_skips_the_call(client: openai.OpenAI) -> None:
    assistant = client.beta.assistants.create(model="gpt-4o", tools=[WEATHER_TOOL])
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "Hi"}])
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, tool_choice="none"
    )
    assert run.status == "completed"


def test_create_and_run(client: openai.OpenAI) -> None:
    assistant = client.beta.assistants.create(model="gpt-4o")
    run = client.beta.threads.create_and_run(
        assistant_id=assistant.id,
        thread={"messages": [{"role": "user", "content": "Hi"}], "metadata": {"t": "1"}},
    )
    assert run.status == "queued"
    assert client.beta.threads.retrieve(run.thread_id).metadata == {"t": "1"}
    done = client.beta.threads.runs.poll(run.id, thread_id=run.thread_id)
    assert done.status == "completed"
    texts = [m.content[0].text.value for m in client.beta.threads.messages.list(thread_id=run.thread_id)]
    assert texts == ["Hello from the emulator.", "Hi"]

    polled = client.beta.threads.create_and_run_poll(assistant_id=assistant.id, thread={})
    assert polled.status == "completed"


def test_create_and_run_stream(client: openai.OpenAI) -> None:
    assistant = client.beta.assistants.create(model="gpt-4o")
    stream = client.beta.threads.create_and_run(
        assistant_id=assistant.id, thread={"messages": [{"role": "user", "content": "Hi"}]}, stream=True
    )
    events = list(stream)
    assert [e.event for e in events][:2] == ["thread.created", "thread.run.created"]
    assert events[-1].event == "thread.run.completed"
    thread = events[0].data
    assert events[1].data.thread_id == thread.id
    assert client.beta.threads.messages.list(thread_id=thread.id).data[0].role == "assistant"

    handler = EventRecorder()
    with client.beta.threads.create_and_run_stream(
        assistant_id=assistant.id,
        thread={"messages": [{"role": "user", "content": "Hi"}]},
        event_handler=handler,
    ) as s:
        s.until_done()
    assert handler.events[0] == "thread.created"
    assert handler.text == "Hello from the emulator."


def test_cancel(client: openai.OpenAI) -> None:
    assistant = client.beta.assistants.create(model="gpt-4o", tools=[WEATHER_TOOL])
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "Hi"}])
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
    assert run.status == "requires_action"
    cancelling = client.beta.threads.runs.cancel(run.id, thread_id=thread.id)
    assert (cancelling.status, cancelling.cancelled_at) == ("cancelling", None)
    cancelled = client.beta.threads.runs.retrieve(run.id, thread_id=thread.id)
    assert cancelled.status == "cancelled"
    assert cancelled.cancelled_at is not None
    assert cancelled.expires_at is None
    assert cancelled.required_action is None
    steps = client.beta.threads.runs.steps.list(run.id, thread_id=thread.id).data
    assert [(s.type, s.status) for s in steps] == [("tool_calls", "cancelled")]
    # The thread is free again.
    again = client.beta.threads.runs.create(
        thread_id=thread.id, assistant_id=assistant.id, tool_choice="none"
    )
    assert again.status == "queued"


def test_cancel_while_streaming_ends_the_stream(emu: Emulator, raw: Http) -> None:
    assistant_id, thread_id = setup_thread(raw)
    # 150 ms between events leaves ample time to cancel before the stream's next checkpoint.
    body = json.dumps(
        {"assistant_id": assistant_id, "stream": True, "metadata": {"emulator_event_delay_ms": "150"}}
    )
    request = (
        f"POST /v1/threads/{thread_id}/runs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer k\r\n"
        f"Connection: close\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n{body}"
    )
    with socket.create_connection(("127.0.0.1", emu.port), timeout=10) as sock:
        sock.sendall(request.encode())
        received = b""
        while b"thread.run.created" not in received:
            received += sock.recv(65536)
        run_id = raw.json("GET", f"/threads/{thread_id}/runs")["data"][0]["id"]
        assert raw.json("POST", f"/threads/{thread_id}/runs/{run_id}/cancel")["status"] == "cancelling"
        while chunk := sock.recv(65536):
            received += chunk
    chunks, terminated = parse_chunks(split_http(received)[2])
    assert terminated
    assert event_names(chunks) == [
        "thread.run.created",
        "thread.run.queued",
        "thread.run.cancelling",
        "thread.run.cancelled",
        "done",
    ]
    assert event_payloads(chunks)[2]["status"] == "cancelling"
    cancelled = event_payloads(chunks)[3]
    assert cancelled["status"] == "cancelled"
    assert cancelled["cancelled_at"] is not None
    assert raw.json("GET", f"/threads/{thread_id}/runs/{run_id}")["status"] == "cancelled"


def test_cut_stream_through_the_sdk(client: openai.OpenAI) -> None:
    assistant = client.beta.assistants.create(model="gpt-4o")
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "Hi"}])
    stream = client.beta.threads.runs.create(
        thread_id=thread.id, assistant_id=assistant.id, stream=True, metadata={"emulator_cut_after": "5"}
    )
    seen = []
    with pytest.raises(openai.APIConnectionError):
        for event in stream:
            seen.append(event.event)
    assert seen == RUN_EVENTS[:5]
    run_id = client.beta.threads.runs.list(thread_id=thread.id).data[0].id
    assert client.beta.threads.runs.retrieve(run_id, thread_id=thread.id).status == "in_progress"
    assert client.beta.threads.runs.poll(run_id, thread_id=thread.id).status == "completed"


def test_sdk_error_types(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as not_found:
        client.beta.threads.retrieve("thread_missing")
    assert not_found.value.body == {
        "message": "No thread found with id 'thread_missing'.",
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }
    with (
        Emulator(api_key="sk-" + "the-right-key-000") as locked,
        openai.OpenAI(base_url=locked.base_url, api_key="sk-" + "a-wrong-key-0000", max_retries=0) as wrong,
    ):
        with pytest.raises(openai.AuthenticationError) as denied:
            wrong.beta.threads.create()
        assert denied.value.code == "invalid_api_key"


def test_legacy_httpx_client(emu: Emulator) -> None:
    with openai.OpenAI(
        base_url=emu.base_url, api_key="test-key", max_retries=0, http_client=httpx.Client()
    ) as legacy:
        assistant = legacy.beta.assistants.create(model="gpt-4o", tools=[WEATHER_TOOL])
        thread = legacy.beta.threads.create(messages=[{"role": "user", "content": "Hi"}])
        handler = EventRecorder()
        with legacy.beta.threads.runs.stream(
            thread_id=thread.id, assistant_id=assistant.id, event_handler=handler
        ) as s:
            s.until_done()
            run = s.get_final_run()
        assert run.status == "requires_action"
        call = run.required_action.submit_tool_outputs.tool_calls[0]
        done = legacy.beta.threads.runs.submit_tool_outputs_and_poll(
            run_id=run.id, thread_id=thread.id, tool_outputs=[{"tool_call_id": call.id, "output": "ok"}]
        )
        assert done.status == "completed"
        assert legacy.beta.threads.messages.list(thread_id=thread.id).data[0].content[0].text.value == (
            "Tool output received: ok"
        )


# --------------------------------------------------------------------------- the SDK, async


async def test_async_client(emu: Emulator) -> None:
    async with openai.AsyncOpenAI(base_url=emu.base_url, api_key="test-key", max_retries=0) as client:
        assistant = await client.beta.assistants.create(model="gpt-4o", tools=[WEATHER_TOOL])
        thread = await client.beta.threads.create(messages=[{"role": "user", "content": "Hi"}])
        run = await client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
        assert run.status == "requires_action"
        call = run.required_action.submit_tool_outputs.tool_calls[0]
        handler = AsyncEventRecorder()
        async with client.beta.threads.runs.submit_tool_outputs_stream(
            thread_id=thread.id,
            run_id=run.id,
            tool_outputs=[{"tool_call_id": call.id, "output": "async"}],
            event_handler=handler,
        ) as stream:
            await stream.until_done()
            final = await stream.get_final_run()
        assert final.status == "completed"
        assert handler.events[0] == "thread.run.step.completed"
        assert handler.text == "Tool output received: async"

        handler = AsyncEventRecorder()
        async with client.beta.threads.runs.stream(
            thread_id=thread.id, assistant_id=assistant.id, tool_choice="none", event_handler=handler
        ) as stream:
            await stream.until_done()
        assert handler.events[-1] == "thread.run.completed"
        assert handler.text == "Hello from the emulator."

        events = [e.event async for e in await client.beta.threads.create_and_run(
            assistant_id=assistant.id, thread={}, tools=[], stream=True
        )]  # fmt: skip
        assert events[0] == "thread.created"
        assert events[-1] == "thread.run.completed"


async def test_async_concurrent_runs(emu: Emulator) -> None:
    import asyncio

    async with openai.AsyncOpenAI(base_url=emu.base_url, api_key="test-key", max_retries=0) as client:
        assistant = await client.beta.assistants.create(model="gpt-4o")

        async def one(index: int) -> str:
            thread = await client.beta.threads.create(messages=[{"role": "user", "content": str(index)}])
            run = await client.beta.threads.runs.create_and_poll(
                thread_id=thread.id, assistant_id=assistant.id, metadata={"emulator_reply": f"reply {index}"}
            )
            assert run.status == "completed"
            page = await client.beta.threads.messages.list(thread_id=thread.id)
            return page.data[0].content[0].text.value

        replies = await asyncio.gather(*(one(i) for i in range(8)))
    assert replies == [f"reply {i}" for i in range(8)]


# --------------------------------------------------------------------------- scenario helpers and CLI


@pytest.mark.parametrize(
    ("text", "deltas", "pieces"),
    [
        ("Hello from the emulator.", None, ["Hello", " from", " the", " emulator."]),
        ("  padded  ", None, ["  padded  "]),
        ("", None, [""]),
        ("abcdefg", 3, ["abc", "de", "fg"]),
        ("ab", 5, ["a", "b"]),
    ],
)
def test_split_reply(text: str, deltas: int | None, pieces: list[str]) -> None:
    assert split_reply(text, deltas) == pieces
    assert "".join(pieces) == text


def test_cli_serves_until_interrupted() -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "pytest_runs.emulator", "--port", "0", "--seed", "3", "--poll-after-ms", "7"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        match = re.fullmatch(r"pytest-runs emulator listening on (http://127\.0\.0\.1:(\d+)/v1)", line)
        assert match is not None, line
        conn = http.client.HTTPConnection("127.0.0.1", int(match.group(2)), timeout=10)
        conn.request("POST", "/v1/threads", body="{}", headers=AUTH)
        response = conn.getresponse()
        thread = json.loads(response.read())
        assert thread["created_at"] == 1_700_000_000  # --seed reached the emulator
        conn.close()
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
        assert process.stderr is not None
        assert process.stderr.read() == ""
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


# --------------------------------------------------------------------------- headers, query parameters, HTTP errors

CODE_TOOL = {"type": "code_interpreter"}
TIME_TOOL = {"type": "function", "function": {"name": "get_time"}}
INCLUDE = "step_details.tool_calls%5B%2A%5D.file_search.results%5B%2A%5D.content"


def test_real_header_set_and_one_cookie_per_connection(emu: Emulator, raw: Http) -> None:
    response, _ = raw.call("POST", "/threads", {})
    headers = {name.lower(): value for name, value in response.getheaders()}
    assert headers["cf-cache-status"] == "DYNAMIC"
    assert headers["alt-svc"] == 'h3=":443"; ma=86400'
    assert headers["strict-transport-security"] == "max-age=31536000; includeSubDomains; preload"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["openai-project"] == "proj_emulator"
    assert re.fullmatch(r"[0-9a-f]{16}-EMU", headers["cf-ray"])
    assert int(headers["x-envoy-upstream-service-time"]) >= int(headers["openai-processing-ms"])
    cookie = headers["set-cookie"]
    assert re.fullmatch(r"__cf_bm=[0-9a-f]{32}-\d+-1\.0\.1\.1-emulator; path=/; expires=.+ GMT; HttpOnly; Secure; "
                        r"SameSite=None", cookie)  # fmt: skip
    # Later answers on the same connection set no cookie; a new connection gets one again.
    response, _ = raw.call("GET", "/threads/thread_nope")
    assert response.getheader("set-cookie") is None
    assert response.getheader("cf-ray") is not None  # errors carry the headers too
    _, fresh, _ = split_http(raw_exchange(emu.port, "POST", "/threads", {}))
    assert "set-cookie" in fresh


def test_stream_headers(emu: Emulator, raw: Http) -> None:
    assistant_id, thread_id = setup_thread(raw)
    body = {"assistant_id": assistant_id, "stream": True}
    _, headers, _ = split_http(raw_exchange(emu.port, "POST", f"/threads/{thread_id}/runs", body))
    for name in ("cf-ray", "x-envoy-upstream-service-time", "openai-project", "strict-transport-security"):
        assert name in headers


def test_include_query_parameter(raw: Http) -> None:
    assistant_id, thread_id = setup_thread(raw)
    body = {"assistant_id": assistant_id, "metadata": {"emulator_polls": "0"}}
    run = raw.json("POST", f"/threads/{thread_id}/runs?include%5B%5D={INCLUDE}", body)
    raw.json("GET", f"/threads/{thread_id}/runs/{run['id']}")
    steps = raw.json("GET", f"/threads/{thread_id}/runs/{run['id']}/steps?include[]={INCLUDE}")
    assert [step["type"] for step in steps["data"]] == ["message_creation"]
    step = raw.json(
        "GET", f"/threads/{thread_id}/runs/{run['id']}/steps/{steps['first_id']}?include[]={INCLUDE}"
    )
    assert step["id"] == steps["first_id"]
    error = raw.json("GET", f"/threads/{thread_id}/runs/{run['id']}/steps?include[]=bogus", status=400)[
        "error"
    ]
    assert error["param"] == "include"
    assert error["message"].startswith(
        "Invalid value: 'bogus'. Supported values are: 'step_details.tool_calls"
    )


def test_metadata_values_must_be_strings(raw: Http) -> None:
    error = raw.json("POST", "/threads", {"metadata": {"modified": True}}, status=400)["error"]
    assert error == {
        "message": "Invalid type for 'metadata.modified': expected a string, but got a boolean instead.",
        "type": "invalid_request_error",
        "param": "metadata.modified",
        "code": "invalid_type",
    }


def test_update_run_refused_while_working(raw: Http) -> None:
    assistant_id, thread_id = setup_thread(raw)
    run = raw.json("POST", f"/threads/{thread_id}/runs", {"assistant_id": assistant_id})
    path = f"/threads/{thread_id}/runs/{run['id']}"
    assert raw.json("GET", path)["status"] == "in_progress"
    error = raw.json("POST", path, {"metadata": {"modified": "yes"}}, status=400)["error"]
    assert error["message"] == "Cannot update run with status 'in_progress'."
    assert raw.json("GET", path)["status"] == "completed"
    updated = raw.json("POST", path, {"metadata": {"modified": "yes"}})
    assert (updated["status"], updated["metadata"]) == ("completed", {"modified": "yes"})
    # The knobs were read at creation: new metadata changes nothing about the run.
    assert raw.json("GET", path)["status"] == "completed"


def test_429_answer_and_limited_failures(raw: Http) -> None:
    assistant_id, thread_id = setup_thread(raw)
    knobs = {"emulator_http_status": "429", "emulator_http_failures": "2", "emulator_retry_after_ms": "1500"}
    body = {"assistant_id": assistant_id, "metadata": knobs}
    for _ in range(2):
        response, data = raw.call("POST", f"/threads/{thread_id}/runs", body)
        assert response.status == 429
        assert (response.getheader("retry-after"), response.getheader("retry-after-ms")) == ("2", "1500")
        assert response.getheader("x-ratelimit-remaining-requests") == "0"
        error = json.loads(data)["error"]
        assert (error["type"], error["code"], error["param"]) == ("requests", "rate_limit_exceeded", None)
        assert error["message"].startswith("Rate limit reached for gpt-4o in organization user-emulator")
    assert raw.json("GET", f"/threads/{thread_id}/runs")["data"] == []  # nothing was created
    assert raw.json("POST", f"/threads/{thread_id}/runs", body)["status"] == "queued"
    # Every attempt fails without emulator_http_failures.
    body = {"assistant_id": assistant_id, "thread": {}, "metadata": {"emulator_http_status": "500"}}
    for _ in range(3):
        error = raw.json("POST", "/threads/runs", body, status=500)["error"]
        assert (error["type"], error["code"]) == ("server_error", None)


def test_in_stream_error_frame(emu: Emulator, raw: Http) -> None:
    assistant_id, thread_id = setup_thread(raw)
    body = {"assistant_id": assistant_id, "stream": True, "metadata": {"emulator_error_after": "3"}}
    _, headers, data = split_http(raw_exchange(emu.port, "POST", f"/threads/{thread_id}/runs", body))
    chunks, terminated = parse_chunks(data)
    assert terminated  # the body ends properly, just without ``done``
    assert event_names(chunks) == [*RUN_EVENTS[:3], "error"]
    error = json.loads(chunks[-1].split(b"data: ", 1)[1])["error"]
    assert (error["type"], error["param"], error["code"]) == ("server_error", None, None)
    assert f"(Please include the request ID {headers['x-request-id']} in your email.)" in error["message"]
    run = raw.json("GET", f"/threads/{thread_id}/runs")["data"][0]
    assert (run["status"], run["last_error"]["code"], run["expires_at"]) == ("failed", "server_error", None)
    # Zero events: the error comes first.
    body["metadata"] = {"emulator_error_after": "0"}
    _, _, data = split_http(raw_exchange(emu.port, "POST", f"/threads/{thread_id}/runs", body))
    assert event_names(parse_chunks(data)[0]) == ["error"]


def test_code_interpreter_stream_payloads(emu: Emulator, raw: Http) -> None:
    assistant_id, thread_id = setup_thread(raw, [CODE_TOOL])
    body = {"assistant_id": assistant_id, "stream": True, "metadata": {"emulator_code": "print(1 + 1)"}}
    _, _, data = split_http(raw_exchange(emu.port, "POST", f"/threads/{thread_id}/runs", body))
    chunks, _ = parse_chunks(data)
    names = event_names(chunks)
    assert names[:5] == RUN_EVENTS[:5]
    assert names[5:11] == ["thread.run.step.delta"] * 5 + ["thread.run.step.completed"]
    payloads = event_payloads(chunks)
    assert payloads[3]["step_details"] == {"type": "tool_calls", "tool_calls": []}
    calls = [p["delta"]["step_details"]["tool_calls"][0] for p in payloads[5:10]]
    assert calls[0]["code_interpreter"] == {"input": "", "outputs": []}
    assert calls[0]["id"].startswith("call_")
    assert "".join(call["code_interpreter"].get("input", "") for call in calls) == "print(1 + 1)"
    assert calls[-1]["code_interpreter"] == {"outputs": [{"index": 0, "type": "logs", "logs": "42\n"}]}
    done = payloads[10]["step_details"]["tool_calls"][0]
    assert done == {
        "id": calls[0]["id"],
        "type": "code_interpreter",
        "code_interpreter": {"input": "print(1 + 1)", "outputs": [{"type": "logs", "logs": "42\n"}]},
    }
    assert names[-1] == "done"


def test_cut_mid_code_step_is_finished_by_polling(emu: Emulator, raw: Http) -> None:
    assistant_id, thread_id = setup_thread(raw, [CODE_TOOL])
    body = {"assistant_id": assistant_id, "stream": True, "metadata": {"emulator_cut_after": "7"}}
    _, _, data = split_http(raw_exchange(emu.port, "POST", f"/threads/{thread_id}/runs", body))
    run_id = event_payloads(parse_chunks(data)[0])[0]["id"]
    statuses = [raw.json("GET", f"/threads/{thread_id}/runs/{run_id}")["status"] for _ in range(2)]
    assert statuses == ["in_progress", "completed"]
    steps = raw.json("GET", f"/threads/{thread_id}/runs/{run_id}/steps?order=asc")["data"]
    # The step the stream began was finished, not duplicated.
    assert [(step["type"], step["status"]) for step in steps] == [
        ("tool_calls", "completed"),
        ("message_creation", "completed"),
    ]
    assert steps[0]["step_details"]["tool_calls"][0]["code_interpreter"]["input"] == "print(6 * 7)"


def test_polled_lifecycle_timestamps() -> None:
    with Emulator(seed="lifecycle", event_delay=0) as emu:
        conn = Http(emu)
        assistant_id, thread_id = setup_thread(conn, [WEATHER_TOOL])
        run = conn.json("POST", f"/threads/{thread_id}/runs", {"assistant_id": assistant_id})
        path = f"/threads/{thread_id}/runs/{run['id']}"
        assert (run["status"], run["started_at"], run["expires_at"]) == (
            "queued",
            None,
            run["created_at"] + 600,
        )
        first = conn.json("GET", path)
        waiting = conn.json("GET", path)
        assert (first["status"], waiting["status"]) == ("in_progress", "requires_action")
        assert waiting["expires_at"] == run["created_at"] + 600
        assert waiting["usage"] is None
        call_id = waiting["required_action"]["submit_tool_outputs"]["tool_calls"][0]["id"]
        outputs = {"tool_outputs": [{"tool_call_id": call_id, "output": "sunny"}]}
        queued = conn.json("POST", path + "/submit_tool_outputs", outputs)
        assert (queued["status"], queued["required_action"]) == ("queued", None)
        again = conn.json("GET", path)
        done = conn.json("GET", path)
        conn.conn.close()
    # started_at is stamped again when the run leaves queued after the outputs, as the real service does.
    assert again["started_at"] > first["started_at"]
    assert (done["status"], done["expires_at"]) == ("completed", None)
    assert done["completed_at"] >= again["started_at"]
    assert (
        done["usage"]["total_tokens"] == done["usage"]["prompt_tokens"] + done["usage"]["completion_tokens"]
    )
    assert done["usage"]["prompt_token_details"] == {"cached_tokens": 0}


def test_expire_without_and_with_tools(raw: Http) -> None:
    assistant_id, thread_id = setup_thread(raw, [CODE_TOOL, WEATHER_TOOL])
    body = {"assistant_id": assistant_id, "metadata": {"emulator_expire": "1", "emulator_polls": "0"}}
    run = raw.json("POST", f"/threads/{thread_id}/runs", body)
    expired = raw.json("GET", f"/threads/{thread_id}/runs/{run['id']}")
    assert (expired["status"], expired["expires_at"], expired["required_action"]) == ("expired", None, None)
    steps = raw.json("GET", f"/threads/{thread_id}/runs/{run['id']}/steps")["data"]
    assert [(step["type"], step["status"]) for step in steps] == [("tool_calls", "completed")]  # the code ran
    body = {"assistant_id": assistant_id, "tools": [], "metadata": {"emulator_expire": "true"}}
    _, data = raw.call("POST", f"/threads/{thread_id}/runs", {**body, "stream": True})
    assert re.findall(rb"event: (\S+)", data) == [
        b"thread.run.created",
        b"thread.run.queued",
        b"thread.run.in_progress",
        b"thread.run.expired",
        b"done",
    ]
    assert raw.json("GET", f"/threads/{thread_id}/runs")["data"][0]["status"] == "expired"
    messages = raw.json("GET", f"/threads/{thread_id}/messages")["data"]
    assert [m["role"] for m in messages] == ["user"]  # it expired before writing anything


@pytest.mark.parametrize(
    ("knobs", "message"),
    [
        (
            {"emulator_fail": "oops"},
            "Invalid value for metadata 'emulator_fail': 'oops'. Supported values are:",
        ),
        ({"emulator_expire": "maybe"}, "expected 'true' or 'false'"),
        ({"emulator_http_status": "404"}, "Supported values are: '429', '500'."),
        ({"emulator_tool_calls": "-1"}, "expected a non-negative integer"),
    ],
)
def test_invalid_new_knobs_are_400(raw: Http, knobs: dict[str, str], message: str) -> None:
    assistant_id, thread_id = setup_thread(raw)
    error = raw.json(
        "POST", f"/threads/{thread_id}/runs", {"assistant_id": assistant_id, "metadata": knobs}, 400
    )
    assert message in error["error"]["message"]
    assert error["error"]["param"] == "metadata"


def _scenario(**metadata: str) -> Scenario:
    return parse_scenario(metadata, poll_after_ms=0, event_delay=0)


@pytest.mark.parametrize(
    ("tools", "tool_choice", "parallel", "metadata", "plan"),
    [
        ([], "auto", True, {}, ["message"]),
        ([WEATHER_TOOL], "auto", True, {}, ["tools:get_weather", "message"]),
        ([WEATHER_TOOL], "none", True, {}, ["message"]),
        ([WEATHER_TOOL, TIME_TOOL], "auto", True, {"emulator_tool_calls": "3"},
         ["tools:get_weather,get_time,get_weather", "message"]),
        ([WEATHER_TOOL, TIME_TOOL], "auto", False, {"emulator_tool_calls": "2"},
         ["tools:get_weather", "tools:get_time", "message"]),
        ([WEATHER_TOOL, TIME_TOOL], {"type": "function", "function": {"name": "get_time"}}, True,
         {"emulator_tool_calls": "2"}, ["tools:get_time,get_time", "message"]),
        ([WEATHER_TOOL], "auto", True, {"emulator_tool_calls": "0"}, ["message"]),
        ([CODE_TOOL, WEATHER_TOOL], "auto", True, {}, ["code", "tools:get_weather", "message"]),
        ([CODE_TOOL, WEATHER_TOOL], {"type": "code_interpreter"}, True, {}, ["code", "message"]),
        ([CODE_TOOL, WEATHER_TOOL], "auto", True, {"emulator_expire": "true"}, ["code", "expire"]),
        ([], "auto", True, {"emulator_expire": "yes"}, ["expire"]),
        ([CODE_TOOL], "auto", True, {"emulator_fail": "server_error"}, ["fail"]),
    ],
)  # fmt: skip
def test_plan_run(
    tools: Any, tool_choice: Any, parallel: bool, metadata: dict[str, str], plan: list[str]
) -> None:
    phases = plan_run(tools, tool_choice, parallel, _scenario(**metadata))
    assert [f"{p.kind}:{','.join(p.calls)}" if p.calls else p.kind for p in phases] == plan


def scenario_session(emu: Emulator) -> list[bytes]:
    """A fixed sequence exercising the newer scenarios; returns every body."""
    conn = Http(emu)
    bodies = []

    def call(method: str, path: str, body: Any = None) -> Any:
        _, data = conn.call(method, path, body)
        bodies.append(data)
        return json.loads(data) if data.startswith(b"{") else None

    assistant = call(
        "POST", "/assistants", {"model": "gpt-4o", "tools": [CODE_TOOL, WEATHER_TOOL, TIME_TOOL]}
    )
    thread = call("POST", "/threads", {"messages": [{"role": "user", "content": "All of it"}]})
    body = {"assistant_id": assistant["id"], "stream": True, "metadata": {"emulator_tool_calls": "2"}}
    call("POST", f"/threads/{thread['id']}/runs", body)
    run = call("GET", f"/threads/{thread['id']}/runs")["data"][0]
    calls = run["required_action"]["submit_tool_outputs"]["tool_calls"]
    outputs = [{"tool_call_id": c["id"], "output": c["function"]["name"]} for c in calls]
    call("POST", f"/threads/{thread['id']}/runs/{run['id']}/submit_tool_outputs", {"tool_outputs": outputs})
    for _ in range(3):
        call("GET", f"/threads/{thread['id']}/runs/{run['id']}")
    call("GET", f"/threads/{thread['id']}/runs/{run['id']}/steps")
    body = {"assistant_id": assistant["id"], "tools": [], "max_completion_tokens": 1, "stream": True}
    call("POST", f"/threads/{thread['id']}/runs", body)
    call("GET", f"/threads/{thread['id']}/messages")
    conn.conn.close()
    return bodies


def test_same_seed_gives_identical_scenarios() -> None:
    with Emulator(seed=7, event_delay=0) as first, Emulator(seed=7, event_delay=0) as second:
        one, two = scenario_session(first), scenario_session(second)
    assert one == two
    steps = json.loads(one[8])["data"]
    assert [step["type"] for step in steps] == ["message_creation", "tool_calls", "tool_calls"]
    assert b"event: thread.run.incomplete" in one[9]
