"""Edge cases of secrets, matching and writing, each through the real code path it concerns."""

from __future__ import annotations

import gzip
import os
import re
import secrets
import stat
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from pytest_runs.activation import activate
from pytest_runs.cassette import RecordedRequest
from pytest_runs.errors import SecretLeakError
from pytest_runs.guard import is_loopback
from pytest_runs.matching import match_key
from pytest_runs.normalise import Normaliser
from pytest_runs.redact import Redactor, Rules, find_leaks
from pytest_runs.scan import scan_paths
from pytest_runs.session import Cassette
from pytest_runs.snapshot import RunSnapshotExtension
from pytest_runs.storage import write_atomic


def _token(length: int = 24) -> str:
    return "tok" + secrets.token_hex(length // 2)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    hits: int
    secret: str

    def handle_error(self, request: object, client_address: object) -> None:
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.server.hits += 1
        if self.path == "/opaque":
            # Bytes the recorder cannot decode: labelled with an encoding they are not.
            body = gzip.compress(f'{{"echo": "{self.server.secret}"}}'.encode())
            headers = [("content-encoding", "zstd")]
        elif self.path == "/twice":
            body = gzip.compress(b'{"ok": true}')
            headers = [("content-encoding", "gzip"), ("content-encoding", "identity")]
        else:
            body = f'{{"hit": {self.server.hits}, "path": "{self.path}"}}'.encode()
            headers = []
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def server() -> Iterator[_Server]:
    running = _Server(("127.0.0.1", 0), _Handler)
    running.hits = 0
    running.secret = _token()
    thread = threading.Thread(target=running.serve_forever, daemon=True)
    thread.start()
    yield running
    running.shutdown()
    running.server_close()


# -- secrets ---------------------------------------------------------------------------------------------------------


def test_a_leak_report_masks_every_copy_of_the_secret() -> None:
    value = _token()
    leaks = find_leaks(f"note: {value} and {value}", [("MY_TOKEN", value)])
    assert [leak.excerpt for leak in leaks] == ["note: **** and ****", "note: **** and ****"]


def test_lower_case_percent_escapes_are_redacted_and_found(monkeypatch: pytest.MonkeyPatch) -> None:
    value = "AbCdEf/GhIjKl" + secrets.token_hex(4)
    monkeypatch.setenv("OPENAI_ORG_ID", value)
    redactor = Redactor(Rules.build())
    sent = "/x?org=" + value.replace("/", "%2f")
    assert redactor.text(sent) == "/x?org=<redacted:OPENAI_ORG_ID>"
    assert [leak.what for leak in find_leaks(sent, redactor.secrets())] == [
        "the value of OPENAI_ORG_ID (URL-encoded)"
    ]


def test_user_information_in_a_url_is_redacted() -> None:
    redactor = Redactor(Rules.build())
    assert redactor.url("http://proxyuser:S3cretPass@127.0.0.2:8080/v1/threads") == (
        "http://<redacted>@127.0.0.2:8080/v1/threads"
    )
    request = Cassette(Path("/nonexistent/c.yaml"), "once").describe_request(
        "GET", "http://user:S3cretPass@api.example/v1/x", [], b""
    )
    assert request.url == "http://<redacted>@api.example/v1/x"


def test_a_body_that_cannot_be_decoded_is_never_written(server: _Server, tmp_path: Path) -> None:
    path = tmp_path / "opaque.yaml"
    cassette = Cassette(path, "once")
    with activate(cassette), httpx.Client() as client:
        client.post(f"http://127.0.0.1:{server.server_port}/opaque").read()
    with pytest.raises(SecretLeakError) as raised:
        cassette.save()
    message = str(raised.value)
    assert message.startswith(
        f"pytest-runs: refusing to write {path}: a response body could not be decoded (content-encoding zstd: "
    )
    assert "so it cannot be checked for secrets." in message
    assert server.secret not in message
    assert not path.exists()


def test_a_content_encoding_sent_twice_is_decoded_as_one(server: _Server, tmp_path: Path) -> None:
    path = tmp_path / "twice.yaml"
    cassette = Cassette(path, "once")
    with activate(cassette), httpx.Client() as client:
        client.post(f"http://127.0.0.1:{server.server_port}/twice").read()
    assert cassette.save()
    replay = Cassette(path, "none")
    with activate(replay), httpx.Client() as client:
        assert client.post(f"http://127.0.0.1:{server.server_port}/twice").json() == {"ok": True}


@pytest.mark.parametrize(
    ("hook", "message"),
    [
        (
            "return ['abc']",
            "pytest-runs: a pytest_runs_redact hook returned a literal shorter than 8 characters; it would match "
            "ordinary text. Return a re.Pattern that says what the secret looks like.",
        ),
        (
            "import re; return [re.compile('x*')]",
            "pytest-runs: a pytest_runs_redact hook returned the pattern 'x*', which matches the empty string, so it "
            "would redact nothing.",
        ),
    ],
)
def test_unusable_hook_rules_are_refused(pytester: pytest.Pytester, hook: str, message: str) -> None:
    pytester.makeconftest(f"def pytest_runs_redact(config):\n    {hook}\n")
    pytester.makepyfile("def test_one(runs_cassette): pass")
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    assert message in result.stdout.str()


def test_a_snapshot_holding_a_key_redaction_cannot_reach_is_refused() -> None:
    key = "sk-proj-" + secrets.token_hex(16)
    with pytest.raises(SecretLeakError) as raised:
        RunSnapshotExtension().serialize({"raw": key.encode()})
    assert str(raised.value).startswith(
        "pytest-runs: refusing this snapshot: it would contain secrets.\n"
        "  snapshot line 2: a string shaped like an API key: 'raw': b'sk-proj-<masked>',"
    )
    assert key not in str(raised.value)


def test_the_scan_reports_files_it_could_not_search(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pytest_runs import scan

    (tmp_path / "big.yaml").write_text("x" * 100, encoding="utf-8")
    monkeypatch.setattr(scan, "_MAX_BYTES", 10)
    findings, scanned = scan_paths([tmp_path], Rules.build(), shown_from=tmp_path)
    assert [str(finding) for finding in findings] == ["big.yaml:0: not scanned: larger than 0 MiB"]
    assert scanned == 0


# -- matching --------------------------------------------------------------------------------------------------------


def _request(body: bytes, content_type: str) -> RecordedRequest:
    return Cassette(Path("/nonexistent/c.yaml"), "none").describe_request(
        "POST", "http://x/v1/files", [("content-type", content_type)], body
    )


def test_multipart_bodies_match_whatever_their_boundary(server: _Server, tmp_path: Path) -> None:
    path = tmp_path / "upload.yaml"
    url = f"http://127.0.0.1:{server.server_port}/v1/files"
    cassette = Cassette(path, "once")
    with activate(cassette), httpx.Client() as client:
        recorded = client.post(
            url, files={"file": ("notes.txt", b"hello")}, data={"purpose": "assistants"}
        ).json()
    assert cassette.save()
    replay = Cassette(path, "none")
    with activate(replay), httpx.Client() as client:
        replayed = client.post(
            url, files={"file": ("notes.txt", b"hello")}, data={"purpose": "assistants"}
        ).json()
    assert replayed == recorded
    other = _request(b"--b1\r\nx\r\n--b1--\r\n", "multipart/form-data; boundary=b1")
    changed = _request(b"--b2\r\ny\r\n--b2--\r\n", "multipart/form-data; boundary=b2")
    assert not match_key(other).matches(match_key(changed))


def test_a_redacted_secret_in_a_recorded_request_matches_any_value() -> None:
    recorded = match_key(_request(b'{"token": "<redacted:MY_TOKEN>", "n": 1}', "application/json"))
    assert match_key(_request(b'{"token": "whatever-replay-sends", "n": 1}', "application/json")).matches(
        recorded
    )
    assert not match_key(_request(b'{"token": "x", "n": 2}', "application/json")).matches(recorded)


def test_times_a_client_sends_are_not_normalised() -> None:
    request = _request(
        b'{"filter": {"created_at": 1700000000}, "after": "msg_0123456789abcdefXYZ"}', "application/json"
    )
    from pytest_runs.cassette import Interaction, RecordedResponse

    normalised = Normaliser().interaction(Interaction(request=request, response=RecordedResponse(status=200)))
    assert normalised.request.body is not None
    assert normalised.request.body.model_dump(by_alias=True)["json"] == {
        "filter": {"created_at": 1700000000},
        "after": "msg_1",
    }


def test_new_episodes_sends_repeated_requests_to_the_server_again(server: _Server, tmp_path: Path) -> None:
    path = tmp_path / "polls.yaml"
    url = f"http://127.0.0.1:{server.server_port}/v1/poll"
    first = Cassette(path, "once")
    with activate(first), httpx.Client() as client:
        assert client.post(url).json()["hit"] == 1
    assert first.save()
    again = Cassette(path, "new_episodes")
    with activate(again), httpx.Client() as client:
        seen = [client.post(url).json() for _ in range(3)]
    # The recorded poll answers once; the later identical polls reach the server, each one.
    assert [answer["hit"] for answer in seen] == [1, 2, 3]
    assert server.hits == 3


# -- writing and the network guard -------------------------------------------------------------------------------------


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_written_cassettes_get_ordinary_file_modes(tmp_path: Path) -> None:
    umask = os.umask(0o022)
    try:
        fresh = tmp_path / "fresh.yaml"
        write_atomic(fresh, "a")
        assert stat.S_IMODE(fresh.stat().st_mode) == 0o644
        kept = tmp_path / "kept.yaml"
        kept.write_text("old")
        kept.chmod(0o664)
        write_atomic(kept, "new")
        assert stat.S_IMODE(kept.stat().st_mode) == 0o664
    finally:
        os.umask(umask)


def test_the_unspecified_address_is_local() -> None:
    assert is_loopback("0.0.0.0")
    assert is_loopback("::")
    assert not is_loopback("10.0.0.1")


def test_rewrite_of_a_test_that_no_longer_makes_requests_leaves_an_empty_cassette(
    pytester: pytest.Pytester,
) -> None:
    folder = pytester.path / "cassettes" / "test_quiet"
    folder.mkdir(parents=True)
    (folder / "test_quiet.yaml").write_text(
        "version: 1\ninteractions:\n- request:\n    method: GET\n    url: http://x/v1/old\n  response:\n    status: 200\n",
        encoding="utf-8",
    )
    pytester.makepyfile(test_quiet="def test_quiet(runs_cassette): pass")
    pytester.runpytest("--runs-record-mode=rewrite").assert_outcomes(passed=1)
    text = (folder / "test_quiet.yaml").read_text(encoding="utf-8")
    assert re.search(r"^interactions: \[\]$", text, re.MULTILINE)


def test_the_summary_lists_written_cassettes_under_xdist_too(
    pytester: pytest.Pytester, server: _Server
) -> None:
    pytester.makepyfile(
        test_two=f"""
        import httpx

        def test_one(runs_cassette):
            httpx.post("http://127.0.0.1:{server.server_port}/v1/one")

        def test_two(runs_cassette):
            httpx.post("http://127.0.0.1:{server.server_port}/v1/two")
            assert False, "fails on purpose"
        """
    )
    result = pytester.runpytest_subprocess("-n", "2", "--runs-record-mode=once", "-p", "no:randomly")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*= pytest-runs =*",
            f"cassette written: {pytester.path}/cassettes/test_two/test_one.yaml",
            "recording discarded because the test did not pass: test_two.py::test_two: 1 recorded interaction(s) not "
            "saved (any existing cassette was left as it was)",
        ]
    )


def test_ids_the_test_sent_itself_bind_to_their_own_placeholders_in_any_order(
    server: _Server, tmp_path: Path
) -> None:
    path = tmp_path / "two_threads.yaml"
    first, second = "thread_" + "A" * 24, "thread_" + "B" * 24
    base = f"http://127.0.0.1:{server.server_port}/v1/threads"
    cassette = Cassette(path, "once")
    with activate(cassette), httpx.Client() as client:
        recorded = {thread: client.post(f"{base}/{thread}/runs").json() for thread in (first, second)}
    assert cassette.save()
    text = path.read_text(encoding="utf-8")
    assert first not in text
    assert second not in text
    assert "ids:\n  thread_1: " in text

    replay = Cassette(path, "none")
    with activate(replay), httpx.Client() as client:
        replayed = {thread: client.post(f"{base}/{thread}/runs").json() for thread in (second, first)}
    # Each thread gets the answer recorded for it, with its own ID said back, although the order changed.
    assert replayed == recorded
    assert replayed[second]["path"] == f"/v1/threads/{second}/runs"


# -- the command line on awkward input ------------------------------------------------------------------------------

_GOOD = (
    "version: 1\ninteractions:\n- request:\n    method: GET\n    url: http://x/v1/threads/thread_1\n"
    "  response:\n    status: 200\n    body:\n      json:\n        id: thread_1\n"
)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "      layout: weird\n      json: {}\n",
            "(interactions[0].response.body.json.layout): Input should be 'compact', 'spaced', 'indent 2' or 'indent 4'",
        ),
        ("      base64: abc\n", "(interactions[0].response.body.base64): Value error, not valid base64"),
        (
            "      json:\n        id: run_1\n        object: thread.run\n        status: 7\n",
            "cassettes/c.yaml: runs: interaction 0 (GET /v1/threads/thread_1): run run_1 is not a valid run object",
        ),
    ],
    ids=["layout", "base64", "run"],
)
def test_check_finds_what_would_break_a_replay(
    body: str,
    expected: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from pytest_runs.cli import main

    cassette = _GOOD.split("    body:\n", 1)[0] + "    body:\n" + body
    (tmp_path / "cassettes").mkdir()
    (tmp_path / "cassettes" / "c.yaml").write_text(cassette, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert main(["check"]) == 1
    output = capsys.readouterr().out
    assert output.startswith("cassettes/c.yaml: ")
    assert expected in output


def test_scan_decodes_ruby_vcr_binary_bodies(tmp_path: Path) -> None:
    import base64

    key = "sk-proj-" + secrets.token_hex(16)
    packed = base64.b64encode(gzip.compress(f'{{"k": "{key}"}}'.encode())).decode()
    plain = base64.b64encode(f"key {key}".encode()).decode()
    (tmp_path / "ruby.yml").write_text(
        "http_interactions:\n- response:\n    body:\n      encoding: ASCII-8BIT\n"
        f"      string: !binary |-\n        {packed}\n- response:\n    body:\n      base64_string: {plain}\n",
        encoding="utf-8",
    )
    findings, _ = scan_paths([tmp_path], Rules.build(), shown_from=tmp_path)
    assert [(finding.line, finding.what) for finding in findings] == [
        (5, "a string shaped like an API key (inside a gzip-compressed body)"),
        (9, "a string shaped like an API key (inside a binary body)"),
    ]


def test_import_refuses_an_output_that_is_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from pytest_runs.cli import main

    (tmp_path / "afile").write_text("x", encoding="utf-8")
    (tmp_path / "rec.yaml").write_text("interactions: []\nversion: 1\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert main(["import", "rec.yaml", "--out", "afile", "--force"]) == 2
    assert capsys.readouterr().err == "pytest-runs import: --out afile is not a directory\n"


def test_show_names_a_recording_of_another_tool(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from pytest_runs.cli import main

    (tmp_path / "vcr.yaml").write_text(
        "interactions:\n- request:\n    uri: http://x/v1\n    method: GET\n    body: null\n    headers: {}\n"
        "  response:\n    status: {code: 200, message: OK}\n    headers: {}\n    body: {string: ''}\nversion: 1\n",
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)
    assert main(["show", "vcr.yaml"]) == 1
    assert capsys.readouterr().err == (
        "pytest-runs show: vcr.yaml is a vcrpy recording, not a pytest-runs cassette; convert it with:\n"
        "  pytest-runs import vcr.yaml\n"
    )
