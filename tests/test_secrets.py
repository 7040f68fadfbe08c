"""Secrets never reach a cassette: planted in every place a response or request can carry them, they are redacted;
one that escapes every rule stops the write; ``pytest-runs scan`` finds what is already on disk.

Every fake secret is assembled at run time from random characters, so no key-shaped literal sits in this file.
"""

from __future__ import annotations

import base64
import gzip
import json
import re
import secrets
import string
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_runs.redact import KEY_PATTERN, PLACEHOLDER, Redactor, Rules, find_leaks, parse_rule_lines

ROOT = Path(__file__).resolve().parent.parent
_ALPHABET = string.ascii_letters + string.digits


def _random(length: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length - 1)) + secrets.choice(string.digits)


def _key(prefix: str, length: int = 48) -> str:
    return prefix + _random(length)


def _all_forms(value: str) -> set[str]:
    """Every way the value could be written into a text file (independent of the code under test)."""
    raw = value.encode()
    forms = {value, quote(value, safe=""), quote_plus(value), json.dumps(value)[1:-1]}
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        forms.add(encode(raw).decode().rstrip("="))
        for pad in (b"x", b"xy"):  # the value at other offsets inside base64
            forms.add(encode(pad + raw).decode()[4:-4])
    return forms


# -- a server that echoes secrets everywhere ---------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    planted: dict[str, str]

    def handle_error(self, request: object, client_address: object) -> None:
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, *args: object) -> None:
        pass

    def _send(
        self, status: int, content_type: str, body: bytes, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        planted = self.server.planted
        if self.path.startswith("/v1/json"):
            body = {"data": [{"deep": {"owner_key": planted["response_json"]}}]}
            self._send(
                200,
                "application/json",
                json.dumps(body).encode(),
                {
                    "x-echo-token": planted["response_header"],
                    "set-cookie": f"session={planted['set_cookie']}; Path=/",
                },
            )
        elif self.path == "/v1/stream":
            frames = [
                f"event: thread.run.created\ndata: {json.dumps({'id': 'run_1', 'note': planted['sse']})}\n\n",
                "event: done\ndata: [DONE]\n\n",
            ]
            self._send(200, "text/event-stream", "".join(frames).encode())
        elif self.path == "/v1/gzip":
            text = f"the key is {planted['gzip']} and nothing else"
            self._send(200, "text/plain", gzip.compress(text.encode()), {"content-encoding": "gzip"})
        elif self.path == "/v1/unauthorized":
            message = (
                f"Incorrect API key provided: {planted['partial_401']}. You can find your API key at ..."
            )
            body = {
                "error": {
                    "message": message,
                    "type": "invalid_request_error",
                    "param": None,
                    "code": "invalid_api_key",
                }
            }
            self._send(401, "application/json", json.dumps(body).encode())
        elif self.path == "/v1/text":
            text = f"token {planted['text_rule']} and auth Bearer {planted['text_bearer']}\n"
            self._send(200, "text/plain; charset=utf-8", text.encode())
        else:
            self._send(404, "text/plain", b"no such path")


@pytest.fixture
def echo_server() -> Iterator[_Server]:
    server = _Server(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


DOWNSTREAM = """
import os
import httpx
import pytest

BASE = os.environ["ECHO_BASE"]

@pytest.mark.runs_cassette
def test_everywhere():
    env = os.environ
    with httpx.Client(base_url=BASE) as client:
        response = client.post(
            f"/v1/json/{env['OPENAI_PROJECT_ID']}",
            params={"token": env["QUERY_SECRET"]},
            headers={
                "authorization": f"Bearer {env['OPENAI_API_KEY']}",
                "x-internal-token": env["MY_SERVICE_TOKEN"],
                "cookie": f"session={env['COOKIE_SECRET']}",
            },
            json={"config": {"nested": [{"org": env["OPENAI_ORG_ID"]}]}},
        )
        assert response.status_code == 200
        assert "owner_key" in response.text
        with client.stream("POST", "/v1/stream") as stream:
            assert sum(1 for line in stream.iter_lines() if line.startswith("event:")) == 2
        assert client.post("/v1/gzip").text.startswith("the key is ")
        assert client.post("/v1/unauthorized").status_code == 401
        assert client.post("/v1/text").text.startswith("token ")
"""


def test_secrets_planted_in_every_place_never_reach_the_file_and_it_still_replays(
    pytester: pytest.Pytester, echo_server: _Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    rule_secret = "tok_" + secrets.token_hex(16)
    env = {
        "OPENAI_API_KEY": _key("sk-proj-", 100),  # request authorization header
        "OPENAI_PROJECT_ID": "proj_" + _random(24),  # URL path
        "OPENAI_ORG_ID": "org-" + _random(24),  # JSON request body at depth
        "AZURE_OPENAI_API_KEY": _random(32),  # a custom response header
        "MY_SERVICE_TOKEN": _random(40),  # a custom request header (ini runs_secret_env)
        "QUERY_SECRET": _random(30),  # URL query (pytest_runs_redact hook)
        "COOKIE_SECRET": _random(30),  # request cookie
    }
    planted = {
        "response_header": env["AZURE_OPENAI_API_KEY"],
        "set_cookie": _random(30),  # response set-cookie
        "response_json": _key("sk-svcacct-"),  # JSON response body at depth, an unknown key
        "sse": _key("sess-", 40),  # SSE event data, an unknown session key
        "gzip": env["OPENAI_API_KEY"],  # a gzip-compressed body
        "partial_401": "sk-proj-" + "*" * 20 + _random(4),  # a 401 message with a half-masked key
        "text_rule": rule_secret,  # a text body (ini runs_redact regex)
        "text_bearer": _random(40),  # a bearer token in a text body
    }
    echo_server.planted = planted
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("ECHO_BASE", f"http://127.0.0.1:{echo_server.server_port}")
    pytester.makeini("[pytest]\nruns_secret_env = MY_SERVICE_TOKEN\nruns_redact =\n    re:tok_[0-9a-f]{32}\n")
    pytester.makeconftest(
        "import os\n\ndef pytest_runs_redact(config):\n    return [os.environ['QUERY_SECRET'], os.environ['COOKIE_SECRET']]\n"
    )
    pytester.makepyfile(test_downstream=DOWNSTREAM)

    pytester.runpytest("--runs-record-mode=once").assert_outcomes(passed=1)
    path = pytester.path / "cassettes" / "test_downstream" / "test_everywhere.yaml"
    text = path.read_text(encoding="utf-8")

    every_secret = {
        **{f"env {k}": v for k, v in env.items()},
        **{f"planted {k}": v for k, v in planted.items()},
    }
    assert len(every_secret) >= 12
    for where, value in every_secret.items():
        found = sorted(form for form in _all_forms(value) if form in text)
        assert not found, f"{where} reached the cassette as {found}"
    assert not KEY_PATTERN.search(text)
    # The places are still there, redacted, so the cassette reads as what happened.
    assert "authorization: <redacted>" in text
    assert "cookie: <redacted>" in text
    assert "set-cookie: <redacted>" in text
    assert "x-internal-token: <redacted:MY_SERVICE_TOKEN>" in text
    assert "x-echo-token: <redacted:AZURE_OPENAI_API_KEY>" in text
    assert "/v1/json/<redacted:OPENAI_PROJECT_ID>?token=<redacted>" in text
    assert "org: <redacted:OPENAI_ORG_ID>" in text
    assert "Incorrect API key provided: sk-proj-<redacted>." in text
    assert "owner_key: sk-svcacct-<redacted>" in text
    assert "the key is <redacted:OPENAI_API_KEY> and nothing else" in text
    assert "compressed: gzip" in text
    assert f"token {PLACEHOLDER} and auth Bearer {PLACEHOLDER}" in text

    # Replay, with the server gone: the live requests carry the same secrets and are redacted the same way.
    echo_server.shutdown()
    echo_server.server_close()
    pytester.runpytest().assert_outcomes(passed=1)


def test_a_secret_that_escapes_every_rule_stops_the_write(
    pytester: pytest.Pytester, echo_server: _Server
) -> None:
    """A registered value sent base64-encoded: redaction replaces the value as written, not inside base64, so only
    the scan before writing can catch it."""
    secret = _random(32)
    echo_server.planted = {}
    pytester.makeconftest(f"def pytest_runs_redact(config):\n    return [{secret!r}]\n")
    encoded = base64.b64encode(f"user:{secret}".encode()).decode()
    pytester.makepyfile(
        test_escape=f"""
        import httpx

        def test_escape(runs_cassette):
            httpx.post("http://127.0.0.1:{echo_server.server_port}/v1/other", json={{"basic": {encoded!r}}})
        """
    )
    result = pytester.runpytest("--runs-record-mode=once")
    result.assert_outcomes(passed=1, errors=1)
    output = result.stdout.str()
    for form in _all_forms(secret):
        assert form not in output
    result.stdout.fnmatch_lines(
        [
            "pytest-runs: refusing to write cassettes/test_escape/test_escape.yaml: it would contain secrets that "
            "escaped redaction.",
            "  interactions[[]0].request.body.json.basic (line *): the value of the pytest_runs_redact hook (base64): "
            "basic: ****",
            "Nothing was written, and any existing cassette was left as it was. Add a redaction rule that covers the "
            "value (ini runs_redact or the pytest_runs_redact hook, see the README, 'Secrets'), then record again:",
            "  pytest test_escape.py::test_escape --runs-record-mode=rewrite",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "recording not written: test_escape.py::test_escape: it would have contained secrets (see the error "
            "above) (any existing cassette was left as it was)"
        ]
    )
    assert not (pytester.path / "cassettes").exists() or not any(
        (pytester.path / "cassettes").rglob("*.yaml")
    )
    assert (
        not any((pytester.path / "cassettes").rglob("*.tmp"))
        if (pytester.path / "cassettes").exists()
        else True
    )


# -- configuration errors ----------------------------------------------------------------------------------------------


def test_an_invalid_ini_rule_is_refused_at_once(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nruns_redact =\n    re:tok_[0-9\n")
    pytester.makepyfile("def test_nothing(): pass")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: pytest-runs: ini runs_redact line 1: 're:tok_[0-9' is not a valid regular expression "
            "(unterminated character set at position 4)"
        ]
    )


def test_a_short_literal_rule_is_refused(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nruns_redact =\n    abc\n")
    pytester.makepyfile("def test_nothing(): pass")
    result = pytester.runpytest()
    result.stderr.fnmatch_lines(
        [
            "ERROR: pytest-runs: ini runs_redact line 1: literal **** is shorter than 8 characters; it would match "
            "ordinary text. Use a regular expression (re:...) that says what the secret looks like."
        ]
    )


def test_a_hook_returning_something_else_is_refused(pytester: pytest.Pytester) -> None:
    pytester.makeconftest("def pytest_runs_redact(config):\n    return [42]\n")
    pytester.makepyfile("def test_one(runs_cassette): pass")
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*pytest-runs: a pytest_runs_redact hook returned a value of type int; rules are str (a literal secret) or "
            "re.Pattern (compiled with re.compile).*"
        ]
    )


# -- the redactor ----------------------------------------------------------------------------------------------------


def test_key_shapes_are_redacted_keeping_their_public_prefix() -> None:
    redactor = Redactor(Rules.build())
    full = _key("sk-proj-", 60)
    text = (
        f"keys {full}, {_key('sk-')}, {_key('sk-admin-')}, {_key('sess-', 40)}; "
        f"401: Incorrect API key provided: sk-proj-{'*' * 30}{_random(4)}. Authorization: Bearer {_random(30)}"
    )
    assert redactor.text(text) == (
        "keys sk-proj-<redacted>, sk-<redacted>, sk-admin-<redacted>, sess-<redacted>; "
        "401: Incorrect API key provided: sk-proj-<redacted>. Authorization: Bearer <redacted>"
    )


def test_ordinary_words_are_not_keys() -> None:
    redactor = Redactor(Rules.build())
    text = "use sk-learn-tutorial, risk-assessment-matrix and a task-management plan"
    assert redactor.text(text) == text


def test_known_values_are_replaced_in_urls_and_json_too(monkeypatch: pytest.MonkeyPatch) -> None:
    value = "a/b+c " + _random(12)
    monkeypatch.setenv("OPENAI_ORG_ID", value)
    redactor = Redactor(Rules.build())
    assert redactor.text(f"/x?org={quote_plus(value)}&o={quote(value, safe='')}") == (
        "/x?org=<redacted:OPENAI_ORG_ID>&o=<redacted:OPENAI_ORG_ID>"
    )
    assert redactor.value({value: [{"k": f"before {value} after"}]}) == {
        "<redacted:OPENAI_ORG_ID>": [{"k": "before <redacted:OPENAI_ORG_ID> after"}]
    }


def test_a_value_read_once_is_remembered_after_the_variable_is_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    value = _random(30)
    monkeypatch.setenv("OPENAI_API_KEY", value)
    redactor = Redactor(Rules.build())
    assert redactor.text(value) == "<redacted:OPENAI_API_KEY>"
    monkeypatch.delenv("OPENAI_API_KEY")
    assert [leak.what for leak in find_leaks(f"x {value}", redactor.secrets())] == [
        "the value of OPENAI_API_KEY"
    ]


def test_binary_bodies_are_redacted_byte_for_byte() -> None:
    redactor = Redactor(Rules.build())
    key = _key("sk-")
    data = b"\x89PNG\x00\xff" + key.encode() + b"\x00\x01"
    assert redactor.binary(data) == b"\x89PNG\x00\xffsk-<redacted>\x00\x01"


_TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)


@given(
    before=_TEXT,
    after=_TEXT,
    prefix=st.sampled_from(["sk-", "sk-proj-", "sk-svcacct-", "sk-admin-", "sess-"]),
)
def test_redaction_leaves_no_key_and_is_idempotent(before: str, after: str, prefix: str) -> None:
    redactor = Redactor(Rules.build())
    key = _key(prefix)
    once = redactor.text(f"{before} {key} {after}")
    assert key not in once
    assert redactor.text(once) == once
    assert not [leak for leak in find_leaks(once, []) if "key" in leak.what]


def test_rule_lines() -> None:
    rules = parse_rule_lines(["# a comment", "", "re:tok_[0-9a-f]{8}", "a-literal-value"], "ini runs_redact")
    assert rules[0][0] == "ini runs_redact line 3"
    assert isinstance(rules[0][1], re.Pattern)
    assert rules[1] == ("ini runs_redact line 4", "a-literal-value")
    with pytest.raises(ValueError, match=r"line 1: 're:x\*' matches the empty string"):
        parse_rule_lines(["re:x*"], "ini runs_redact")


# -- pytest-runs scan ------------------------------------------------------------------------------------------------


def _scan(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).with_name("pytest-runs")
    return subprocess.run(
        [str(script), "scan", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=60,
    )


def test_scan_finds_planted_keys_in_every_kind_of_file(tmp_path: Path) -> None:
    ours_key, vcr_key, text_key = _key("sk-proj-"), _key("sk-"), _key("sess-", 40)
    cassettes = tmp_path / "cassettes"
    cassettes.mkdir()
    (cassettes / "ours.yaml").write_text(
        "# pytest-runs cassette, format 1: readable, and editable by hand.\nversion: 1\ninteractions:\n"
        "- request:\n    method: GET\n    url: http://x/v1/runs\n  response:\n    status: 200\n"
        f"    body:\n      json:\n        note: {ours_key}\n",
        encoding="utf-8",
    )
    gzipped = base64.encodebytes(gzip.compress(json.dumps({"leaked": vcr_key}).encode())).decode()
    indented = "".join(f"        {line}\n" for line in gzipped.splitlines())
    (cassettes / "vcrpy.yaml").write_text(
        "interactions:\n- request:\n    body: null\n    headers: {}\n    method: GET\n    uri: http://x/v1/runs\n"
        "  response:\n    body:\n      string: !!binary |\n"
        f"{indented}    headers:\n      Content-Encoding:\n      - gzip\n    status:\n      code: 200\n"
        "      message: OK\nversion: 1\n",
        encoding="utf-8",
    )
    (tmp_path / "notes.txt").write_text(f"first line\nthe session is {text_key}\n", encoding="utf-8")

    result = _scan(cwd=tmp_path)  # default: the cassette directory
    assert result.returncode == 1, result.stderr
    assert result.stdout.splitlines() == [
        "cassettes/ours.yaml:11: a string shaped like an API key: note: sk-proj-<masked>",
        "cassettes/vcrpy.yaml:9: a string shaped like an API key (inside a gzip-compressed body): "
        '{"leaked": "sk-<masked>"}',
    ]
    assert result.stderr.strip().startswith("pytest-runs scan: 2 finding(s) in 2 of 2 file(s).")

    result = _scan("notes.txt", "cassettes", cwd=tmp_path)
    assert result.returncode == 1
    assert (
        "notes.txt:2: a string shaped like an API key: the session is sess-<masked>"
        in result.stdout.splitlines()
    )
    for key in (ours_key, vcr_key, text_key):
        assert key not in result.stdout + result.stderr


def test_scan_finds_values_of_secret_variables_in_any_encoding(tmp_path: Path) -> None:
    value = _random(24)
    (tmp_path / "pytest.ini").write_text("[pytest]\nruns_secret_env = MY_TOKEN\n", encoding="utf-8")
    (tmp_path / "a.json").write_text(
        json.dumps({"b64": base64.b64encode(f"x:{value}".encode()).decode(), "url": quote(value)}),
        encoding="utf-8",
    )
    result = _scan("a.json", cwd=tmp_path, env={"MY_TOKEN": value, "PATH": ""})
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        'a.json:1: the value of MY_TOKEN: {"b64": "****", "url": "****"}',
        'a.json:1: the value of MY_TOKEN (base64): {"b64": "****", "url": "****"}',
    ]
    assert value not in result.stdout


def test_scan_is_silent_on_the_projects_own_cassettes() -> None:
    result = _scan(cwd=ROOT)
    assert result.returncode == 0, result.stdout
    assert result.stdout == ""
    assert re.fullmatch(r"pytest-runs scan: no secrets found in \d+ file\(s\)\n", result.stderr)


def test_the_whole_repository_scans_clean() -> None:
    """What a pre-commit hook on every text file of the project would see: examples, tests and docs included."""
    result = _scan(".", cwd=ROOT)
    assert result.returncode == 0, result.stdout


def test_scan_of_a_missing_path_is_a_usage_error(tmp_path: Path) -> None:
    result = _scan("nowhere", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == "pytest-runs scan: nowhere does not exist\n"


def test_pre_commit_hook_runs_the_scan() -> None:
    import yaml

    [hook] = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    assert hook["id"] == "pytest-runs-scan"
    assert hook["entry"] == "pytest-runs scan"
