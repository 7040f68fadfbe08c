"""Existing cassettes come over: ``pytest-runs import`` converts vcrpy, Ruby VCR and .NET test-proxy recordings,
the converted cassettes replay through the current ``openai`` SDK with the calls that made them, ``pytest-runs show``
prints a readable timeline and ``pytest-runs check`` validates cassettes for CI.

The real recordings are read from the shared folder next to the project (never copied into it); tests that need them
are skipped, saying so, when it is absent. Every fake secret is assembled at run time.
"""

from __future__ import annotations

import functools
import gzip
import json
import os
import re
import secrets
import shutil
import string
import subprocess
import sys
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openai
import pytest
import yaml

from pytest_runs import Cassette
from pytest_runs.activation import activate
from pytest_runs.cassette import CassetteFile, JsonBody, SSEBody, TextBody
from pytest_runs.check import check_paths
from pytest_runs.importer import CassetteImportError, ImportResult, import_file
from pytest_runs.redact import Redactor, Rules, find_leaks
from pytest_runs.storage import dump_cassette, load_cassette, parse_cassette
from pytest_runs.timeline import TIMES, render_timeline

REALWORLD = Path(__file__).resolve().parents[2] / "shared" / "realworld"
_ABSENT = f"the real recordings are not available here ({REALWORLD} does not exist)"
needs_realworld = pytest.mark.skipif(not REALWORLD.is_dir(), reason=_ABSENT)

QUESTION = "I need to solve the equation `3x + 11 = 14`. Can you help me?"
INSTRUCTIONS = "Please address the user as Jane Doe. The user has a premium account."
TUTOR: dict[str, Any] = {
    "instructions": "You are a personal math tutor. Write and run code to answer math questions.",
    "name": "Math Tutor",
    "tools": [{"type": "code_interpreter"}],
}
ACTIVE = ("queued", "in_progress", "cancelling")


def _realworld(prefixes: tuple[str, ...]) -> list[Any]:
    """Parameters: the names of the real recordings starting with ``prefixes`` (one skipped one when absent)."""
    if not REALWORLD.is_dir():
        return [pytest.param("absent", marks=pytest.mark.skip(reason=_ABSENT))]
    return sorted(
        path.name
        for path in REALWORLD.iterdir()
        if path.name.startswith(prefixes) and path.suffix in (".yaml", ".yml", ".json")
    )


@functools.cache
def _imported(name: str) -> ImportResult:
    return import_file(REALWORLD / name)


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).with_name("pytest-runs")
    return subprocess.run(
        [str(script), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        encoding="utf-8",
        env={**os.environ, "PYTHONUTF8": "1"},
        check=False,
        timeout=120,
    )


def _source_interactions(path: Path) -> list[dict[str, Any]]:
    """The interactions of a vcrpy YAML file, read here independently of the importer."""
    data = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    interactions: list[dict[str, Any]] = data["interactions"]
    return interactions


def _lower(headers: dict[str, Any]) -> dict[str, list[str]]:
    return {
        name.lower(): [str(item) for item in (value if isinstance(value, list) else [value])]
        for name, value in headers.items()
    }


# -- vcrpy cassettes import ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", _realworld(("openllmetry__", "agentops__")))
def test_every_vcrpy_cassette_imports(name: str) -> None:
    result = _imported(name)
    source = _source_interactions(REALWORLD / name)
    assert result.source_format == "vcrpy"
    assert result.interactions == len(source)
    for ours, theirs in zip(result.cassette.interactions, source, strict=True):
        headers = _lower(theirs["response"]["headers"])
        content_type = headers["content-type"][0]
        body = ours.response.body
        assert ours.request.method == theirs["request"]["method"]
        assert ours.response.status == theirs["response"]["status"]["code"]
        if content_type.startswith("text/event-stream"):
            assert isinstance(body, SSEBody)
            assert body.sse[-1].data == "[DONE]"
            assert all(isinstance(event.data, dict) for event in body.sse[:-1])
        else:
            assert isinstance(body, JsonBody), f"{name}: {ours.request.url} should have a parsed JSON body"
        raw = theirs["response"]["body"]["string"]
        if headers.get("content-encoding") == ["gzip"]:
            assert isinstance(body, JsonBody)
            assert body.compressed == "gzip"
            assert set(body.json_) == set(
                json.loads(gzip.decompress(raw))
            )  # same fields; IDs may be normalised
            assert "content-encoding" not in ours.response.headers
        # Replay derives the length of the stored body; the framing headers of the source never contradict it.
        assert "content-length" not in ours.response.headers
        if "content-length" in headers:
            assert "transfer-encoding" not in ours.response.headers
        # Credentials and account identifiers keep their name, never their value; machine headers are gone.
        for stored in (ours.request.headers, ours.response.headers):
            for header in ("authorization", "cookie", "set-cookie", "openai-organization", "openai-project"):
                if header in stored:
                    values = stored[header]
                    assert set(values if isinstance(values, list) else [values]) == {"<redacted>"}
            assert not any(header.startswith("x-stainless-") or header == "user-agent" for header in stored)
    assert dump_cassette(parse_cassette(result.text, name)) == result.text  # what is written loads back as is
    assert find_leaks(result.text, []) == []


@needs_realworld
def test_agentops_notes_say_what_changed() -> None:
    result = _imported("agentops__test_openai_assistants_provider__deleted2025.yaml")
    assert result.summary() == "35 interaction(s), 0 stream(s)"
    assert (
        f"dropped content-length and transfer-encoding given together; replay derives the length ({TIMES}35)"
        in result.notes
    )
    body = result.cassette.interactions[0].response.body
    assert isinstance(body, JsonBody)
    assert body.layout == "indent 2"  # stored decoded by the source, still byte-faithful when replayed
    assert body.compressed is None


# -- Ruby VCR and .NET test-proxy recordings import ------------------------------------------------------------------


@pytest.mark.parametrize("name", _realworld(("ruby-openai__", "openai-dotnet__")))
def test_ruby_and_dotnet_recordings_import_and_their_streams_parse(name: str) -> None:
    result = _imported(name)
    assert result.source_format == ("Ruby VCR" if name.startswith("ruby") else ".NET test-proxy")
    assert result.interactions > 0
    for interaction in result.cassette.interactions:
        body = interaction.response.body
        content_type = str(interaction.response.headers.get("content-type", ""))
        if isinstance(body, SSEBody):
            assert content_type.startswith("text/event-stream")
            for event in body.sse:
                assert isinstance(event.data, dict) or event.data == "[DONE]", (name, event)
            assert body.sse[-1].event == "done"
            assert body.tail is None
        elif "json" in content_type:
            assert isinstance(body, JsonBody), (name, interaction.request.url)
    assert dump_cassette(parse_cassette(result.text, name)) == result.text


@needs_realworld
def test_recordings_with_streams_give_the_streams_counted() -> None:
    expected = {
        "ruby-openai__runs_streamed_create.yml": "4 interaction(s), 2 stream(s)",
        "openai-dotnet__StreamingToolCall.json": "3 interaction(s), 2 stream(s)",
        "openai-dotnet__StreamingRunWorks.json": "3 interaction(s), 1 stream(s)",
        "openai-dotnet__FileSearchStreamingWorks.json": "4 interaction(s), 1 stream(s)",
    }
    assert {name: _imported(name).summary() for name in expected} == expected


@needs_realworld
def test_ruby_binary_tag_is_decoded_into_a_parsed_body() -> None:
    result = _imported("ruby-openai__assistant_file_search_step_retrieve__deleted2025.yml")
    last = result.cassette.interactions[-1]
    assert "include[]=" in last.request.url or "include%5B%5D=" in last.request.url
    assert isinstance(last.response.body, JsonBody)
    assert last.response.body.json_["object"] == "thread.run.step"


@needs_realworld
def test_ruby_authorization_header_is_masked() -> None:
    result = _imported("ruby-openai__threads_create__401_historic.yml")
    assert [item.response.status for item in result.cassette.interactions] == [200, 401]
    assert result.cassette.interactions[1].request.headers["authorization"] == "<redacted>"
    assert "Bearer <OPENAI_ACCESS_TOKEN>" not in result.text  # only the header's name is kept


# -- replaying imported cassettes through the SDK ----------------------------------------------------------------------


def _replay(result: ImportResult, tmp_path: Path, calls: Callable[[openai.OpenAI], Any]) -> Any:
    """Write the imported cassette, replay it (record mode none) around ``calls(client)``; return what they return."""
    path = tmp_path / "cassettes" / f"{result.source.stem}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(result.text, encoding="utf-8")
    cassette = Cassette(path, "none")
    with activate(cassette):
        client = openai.OpenAI(base_url="http://replay.invalid/v1", api_key="test", max_retries=0)
        value = calls(client)
    assert cassette.errors == []
    return value


def _recorded_assistant_id(cassette: CassetteFile) -> str:
    """The assistant ID the original test had configured: the first one a request sent (URL or body)."""
    for interaction in cassette.interactions:
        body = interaction.request.body
        if isinstance(body, JsonBody) and isinstance(body.json_, dict) and "assistant_id" in body.json_:
            return str(body.json_["assistant_id"])
        match = re.search(r"/assistants/([^/?]+)", interaction.request.url)
        if match:
            return match.group(1)
    raise AssertionError("the cassette never names an assistant")


def _recorded_replies(cassette: CassetteFile) -> list[str]:
    """The assistant's message texts as the cassette holds them: the last message list, or completed stream
    messages."""
    replies: list[str] = []
    for interaction in cassette.interactions:
        body = interaction.response.body
        if isinstance(body, JsonBody) and isinstance(body.json_, dict) and body.json_.get("object") == "list":
            items = [item for item in body.json_["data"] if item.get("object") == "thread.message"]
            if items:
                replies = [
                    part["text"]["value"]
                    for item in items
                    if item["role"] == "assistant"
                    for part in item["content"]
                ]
        elif isinstance(body, SSEBody):
            replies += [
                part["text"]["value"]
                for event in body.sse
                if event.event == "thread.message.completed"
                for part in event.data["content"]
            ]
    return replies


def _polls(cassette: CassetteFile) -> int:
    return sum(
        interaction.request.method == "GET"
        and re.search(r"/runs/[^/]+$", interaction.request.url) is not None
        for interaction in cassette.interactions
    )


# What each openllmetry test did: the assistant (a model to create one with, or None for the pre-existing one), how
# the run was driven, and whether the instrumentation retrieved the assistant before streaming.
OPENLLMETRY = {
    "openllmetry__test_existing_assistant.yaml": (None, "retrieve"),
    "openllmetry__test_new_assistant.yaml": ("gpt-4o-mini", "retrieve"),
    "openllmetry__test_new_assistant_with_polling.yaml": ("gpt-4o-mini", "create_and_poll"),
    "openllmetry__test_streaming_existing_assistant.yaml": (None, "stream"),
    "openllmetry__test_streaming_new_assistant.yaml": ("gpt-4o-mini", "stream"),
    "openllmetry__test_streaming_new_assistant_with_events_with_content.yaml": ("gpt-4o-mini", "stream"),
    "openllmetry__test_streaming_new_assistant__2024v1.yaml": (
        "gpt-4-turbo-preview",
        "stream_without_lookup",
    ),
}


def _math_tutor_session(result: ImportResult, model: str | None, how: str) -> Callable[[openai.OpenAI], Any]:
    """The calls an openllmetry assistant test made, as a function of the client."""

    def calls(client: openai.OpenAI) -> tuple[str, list[str], int]:
        if model is None:
            assistant_id = _recorded_assistant_id(result.cassette)
        else:
            assistant_id = client.beta.assistants.create(model=model, **TUTOR).id
        thread = client.beta.threads.create()
        client.beta.threads.messages.create(thread_id=thread.id, role="user", content=QUESTION)
        polls = 0
        if how.startswith("stream"):
            if how == "stream":
                client.beta.assistants.retrieve(assistant_id)
            with client.beta.threads.runs.stream(
                thread_id=thread.id, assistant_id=assistant_id, instructions=INSTRUCTIONS
            ) as stream:
                stream.until_done()
                status = stream.get_final_run().status
                texts = [
                    part.text.value
                    for message in stream.get_final_messages()
                    for part in message.content
                    if part.type == "text"
                ]
            return status, texts, polls
        if how == "create_and_poll":
            run = client.beta.threads.runs.create_and_poll(
                thread_id=thread.id, assistant_id=assistant_id, instructions=INSTRUCTIONS
            )
        else:
            run = client.beta.threads.runs.create(
                thread_id=thread.id, assistant_id=assistant_id, instructions=INSTRUCTIONS
            )
            while run.status in ACTIVE:
                run = client.beta.threads.runs.retrieve(run.id, thread_id=thread.id)
                polls += 1
        messages = client.beta.threads.messages.list(thread_id=thread.id, order="asc")
        client.beta.assistants.retrieve(assistant_id)
        texts = [
            part.text.value
            for message in messages.data
            if message.role == "assistant"
            for part in message.content
            if part.type == "text"
        ]
        return run.status, texts, polls

    return calls


replay_under_w_error = pytest.mark.filterwarnings("error::DeprecationWarning")  # replay must survive -W error


@replay_under_w_error
@pytest.mark.parametrize("name", _realworld(("openllmetry__test_",)))
def test_openllmetry_cassettes_replay_through_the_sdk(name: str, tmp_path: Path) -> None:
    result = _imported(name)
    model, how = OPENLLMETRY[name]
    status, texts, polls = _replay(result, tmp_path, _math_tutor_session(result, model, how))
    assert status == "completed"
    assert texts == _recorded_replies(result.cassette)
    assert texts
    assert all(texts)
    if how == "retrieve":
        assert polls == _polls(result.cassette)  # every recorded poll was answered, in order


@replay_under_w_error
@needs_realworld
def test_llamaindex_agent_cassette_replays_with_tool_outputs(tmp_path: Path) -> None:
    result = _imported("openllmetry__llamaindex_test_agent_with_query_tool.yaml")

    def posted(path: str) -> list[Any]:
        """The JSON bodies the original test posted to ``path`` (prompts and tool schemas, not IDs)."""
        return [
            item.request.body.json_
            for item in result.cassette.interactions
            if item.request.method == "POST"
            and item.request.url.endswith(path)
            and isinstance(item.request.body, JsonBody)
        ]

    def calls(client: openai.OpenAI) -> tuple[str, str, list[str]]:
        assistant = client.beta.assistants.create(**posted("/v1/assistants")[0])
        thread = client.beta.threads.create()
        client.beta.threads.messages.create(
            thread_id=thread.id, role="user", content="Which city has the highest population?", attachments=[]
        )
        run = client.beta.threads.runs.create(
            thread_id=thread.id, assistant_id=assistant.id, instructions=None
        )
        while run.status in ACTIVE:
            run = client.beta.threads.runs.retrieve(run.id, thread_id=thread.id)
        assert run.status == "requires_action"
        assert run.required_action is not None
        call = run.required_action.submit_tool_outputs.tool_calls[0]
        assert call.function.name == "sql_tool"
        # The tool is a SQL query engine that asked the chat model twice.
        answer = ""
        for body in posted("/v1/chat/completions"):
            answer = client.chat.completions.create(**body).choices[0].message.content or ""
        run = client.beta.threads.runs.submit_tool_outputs(
            run.id, thread_id=thread.id, tool_outputs=[{"tool_call_id": call.id, "output": answer}]
        )
        while run.status in ACTIVE:
            run = client.beta.threads.runs.retrieve(run.id, thread_id=thread.id)
        page = client.beta.threads.messages.list(thread_id=thread.id, order="desc")
        rest = client.beta.threads.messages.list(thread_id=thread.id, order="desc", after=page.data[-1].id)
        assert rest.data == []
        texts = [
            part.text.value
            for message in page.data
            if message.role == "assistant"
            for part in message.content
            if part.type == "text"
        ]
        return run.status, answer, texts

    status, answer, texts = _replay(result, tmp_path, calls)
    assert status == "completed"
    assert answer.startswith("The city with the highest population in the city_stats table is Tokyo")
    assert texts == _recorded_replies(result.cassette)


@replay_under_w_error
@needs_realworld
def test_imported_polling_cassette_replays_create_and_poll_without_waiting(tmp_path: Path) -> None:
    result = _imported("openllmetry__test_new_assistant_with_polling.yaml")
    assert _polls(result.cassette) == 19  # the SDK would wait its default 1 s after each of the first 18

    def calls(client: openai.OpenAI) -> tuple[str, float]:
        assistant = client.beta.assistants.create(model="gpt-4o-mini", **TUTOR)
        thread = client.beta.threads.create()
        client.beta.threads.messages.create(thread_id=thread.id, role="user", content=QUESTION)
        started = time.perf_counter()
        run = client.beta.threads.runs.create_and_poll(
            thread_id=thread.id, assistant_id=assistant.id, instructions=INSTRUCTIONS
        )
        return run.status, time.perf_counter() - started

    status, elapsed = _replay(result, tmp_path, calls)
    assert status == "completed"
    assert elapsed < 1.0


# -- import: synthetic sources for what the real ones do not show -----------------------------------------------------


def _random(length: int) -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length - 1)) + secrets.choice(string.digits)


def _vcr_interaction(
    body: str | bytes,
    headers: dict[str, Any],
    *,
    uri: str = "https://api.openai.com/v1/threads/thread_x/runs",
) -> dict[str, Any]:
    return {
        "request": {
            "body": '{"assistant_id": "asst_x", "stream": true}',
            "headers": {"Content-Type": ["application/json"], "Authorization": ["Bearer placeholder"]},
            "method": "POST",
            "uri": uri,
        },
        "response": {
            "body": {"string": body},
            "headers": headers,
            "status": {"code": 200, "message": "OK"},
        },
    }


def _write_vcr(path: Path, interactions: list[dict[str, Any]]) -> Path:
    data = {"interactions": interactions, "version": 1}
    if path.suffix == ".json":
        path.write_text(json.dumps(data), encoding="utf-8")
    else:
        path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


RUN_JSON = {"id": "run_x", "object": "thread.run", "status": "completed"}


@pytest.mark.parametrize(
    ("coding", "compress"),
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", lambda data: zlib.compress(data, wbits=-15)),
    ],
    ids=["gzip", "deflate", "raw-deflate"],
)
def test_compressed_binary_bodies_are_decoded_and_marked(
    tmp_path: Path, coding: str, compress: Callable[[bytes], bytes]
) -> None:
    payload = json.dumps(RUN_JSON, indent=2).encode()
    source = _write_vcr(
        tmp_path / "c.yaml",
        [
            _vcr_interaction(
                compress(payload),
                {
                    "Content-Encoding": [coding],
                    "Content-Type": ["application/json"],
                    "Transfer-Encoding": ["chunked"],
                },
            )
        ],
    )
    result = import_file(source)
    body = result.cassette.interactions[0].response.body
    assert isinstance(body, JsonBody)
    assert (body.layout, body.compressed) == ("indent 2", coding)
    assert body.json_["status"] == "completed"
    assert result.cassette.interactions[0].response.headers == {
        "content-type": "application/json",
        "transfer-encoding": "chunked",
    }


def test_brotli_bodies_are_decoded_or_refused(tmp_path: Path) -> None:
    encoded = b"\x0b\x02\x80hello\x03"  # brotli's encoding of b"hello"
    source = _write_vcr(
        tmp_path / "br.yaml",
        [_vcr_interaction(encoded, {"Content-Encoding": "br", "Content-Type": "text/plain"})],
    )
    try:
        import brotli  # type: ignore[import-not-found,unused-ignore]  # noqa: F401
    except ImportError:
        # Undecodable bytes cannot be searched for secrets, so they are not imported.
        with pytest.raises(
            CassetteImportError, match=r"a br body cannot be decoded here .* so it cannot be checked"
        ):
            import_file(source)
    else:
        response = import_file(source).cassette.interactions[0].response
        assert isinstance(response.body, TextBody)
        assert (response.body.text, response.body.compressed) == ("hello", "br")


def test_json_vcrpy_cassettes_with_scalar_headers_and_both_framing_headers(tmp_path: Path) -> None:
    stream = (
        'event: thread.run.created\ndata: {"id":"run_x","object":"thread.run","status":"queued"}\n\n'
        "event: done\ndata: [DONE]\n\n"
    )
    source = _write_vcr(
        tmp_path / "c.json",
        [
            _vcr_interaction(
                stream,
                {
                    "Content-Type": "text/event-stream; charset=utf-8",
                    "content-length": str(len(stream)),
                    "Transfer-Encoding": "chunked",
                    "CF-RAY": "REDACTED",
                },
            )
        ],
    )
    result = import_file(source)
    assert result.summary() == "1 interaction(s), 1 stream(s)"
    response = result.cassette.interactions[0].response
    assert isinstance(response.body, SSEBody)
    assert [event.event for event in response.body.sse] == ["thread.run.created", "done"]
    assert "content-length" not in response.headers
    assert "transfer-encoding" not in response.headers
    request = result.cassette.interactions[0].request
    assert request.headers["authorization"] == "<redacted>"
    assert isinstance(request.body, JsonBody)
    assert request.body.json_["stream"] is True


def test_secrets_are_redacted_in_url_headers_and_bodies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_key = "sk-proj-" + _random(40)
    shaped = "sk-" + _random(40)
    monkeypatch.setenv("OPENAI_API_KEY", env_key)
    body = json.dumps({"error": {"message": f"Incorrect API key provided: {env_key}. Also {shaped}."}})
    source = _write_vcr(
        tmp_path / "leaky.yaml",
        [
            _vcr_interaction(
                gzip.compress(body.encode()),
                {"Content-Encoding": ["gzip"], "Content-Type": ["application/json"], "X-Echo": [shaped]},
                uri=f"https://api.openai.com/v1/threads?key={env_key}",
            )
        ],
    )
    result = import_file(source)
    assert env_key not in result.text
    assert shaped not in result.text
    interaction = result.cassette.interactions[0]
    assert interaction.request.url == "https://api.openai.com/v1/threads?key=<redacted:OPENAI_API_KEY>"
    assert interaction.response.headers["x-echo"] == "sk-<redacted>"
    assert isinstance(interaction.response.body, JsonBody)
    assert interaction.response.body.json_["error"]["message"] == (
        "Incorrect API key provided: <redacted:OPENAI_API_KEY>. Also sk-<redacted>."
    )


def test_user_rules_redact_too(tmp_path: Path) -> None:
    token = "tok_" + _random(20)
    source = _write_vcr(
        tmp_path / "c.yaml",
        [_vcr_interaction(json.dumps({"note": token}), {"Content-Type": ["application/json"]})],
    )
    result = import_file(source, redactor=Redactor(Rules.build(extra=[("test", re.compile(r"tok_\w+"))])))
    assert token not in result.text
    body = result.cassette.interactions[0].response.body
    assert isinstance(body, JsonBody)
    assert body.json_ == {"note": "<redacted>"}


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("interactions: [unclosed\n", r"line 2, column 1: not YAML that can be read safely"),
        ("{}\n", r"top level: not a cassette format pytest-runs can import \(found top-level keys \)"),
        (
            "interactions:\n- request: {method: GET}\n  response: {status: {code: 200}}\n",
            r"interactions\[0\]\.request: a request needs 'method' and 'uri'",
        ),
        (
            "version: 1\ninteractions:\n- request: {method: GET, url: 'http://x/'}\n  response: {status: 200}\n",
            "already a pytest-runs cassette",
        ),
    ],
    ids=["bad-yaml", "unknown-shape", "no-uri", "ours"],
)
def test_unusable_sources_say_which_file_where_and_why(tmp_path: Path, content: str, problem: str) -> None:
    source = tmp_path / "source.yaml"
    source.write_text(content, encoding="utf-8")
    with pytest.raises(CassetteImportError) as raised:
        import_file(source)
    message = str(raised.value)
    assert message.startswith(f"pytest-runs import: cannot import {source}\n  ")
    assert re.search(problem, message), message


# -- pytest-runs import ------------------------------------------------------------------------------------------------


@needs_realworld
def test_import_command_converts_refuses_to_overwrite_and_forces(tmp_path: Path) -> None:
    sources = [
        str(REALWORLD / "openllmetry__test_streaming_new_assistant.yaml"),
        str(REALWORLD / "ruby-openai__runs_streamed_create.yml"),
    ]
    result = _cli("import", *sources, "--out", "converted", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert (
        f"{sources[0]} -> converted/openllmetry__test_streaming_new_assistant.yaml: 5 interaction(s), 1 stream(s) "
        "(vcrpy)" in lines
    )
    assert (
        f"{sources[1]} -> converted/ruby-openai__runs_streamed_create.yaml: 4 interaction(s), 2 stream(s) (Ruby VCR)"
        in lines
    )
    assert result.stderr.strip() == "pytest-runs import: 2 of 2 file(s) imported into converted"
    written = tmp_path / "converted" / "openllmetry__test_streaming_new_assistant.yaml"
    assert load_cassette(written).interactions[4].response.body is not None

    written.write_text("# edited by hand\n", encoding="utf-8")
    again = _cli("import", sources[0], "--out", "converted", cwd=tmp_path)
    assert again.returncode == 1
    assert (
        f"pytest-runs import: not importing {sources[0]}: converted/openllmetry__test_streaming_new_assistant.yaml "
        "already exists (pass --force to replace it)" in again.stderr.splitlines()
    )
    assert written.read_text(encoding="utf-8") == "# edited by hand\n"

    forced = _cli("import", sources[0], "--out", "converted", "--force", cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert written.read_text(encoding="utf-8") == _imported(Path(sources[0]).name).text


@needs_realworld
def test_import_command_writes_to_the_project_cassette_directory(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\nruns_cassette_dir = recorded\n", encoding="utf-8")
    (tmp_path / "tests").mkdir()
    result = _cli("import", str(REALWORLD / "openai-dotnet__StreamingToolCall.json"), cwd=tmp_path / "tests")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "recorded" / "openai-dotnet__StreamingToolCall.yaml").is_file()
    assert "(.NET test-proxy)" in result.stdout


def test_import_command_names_an_unreadable_source_and_fails(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text("interactions:\n  - request: [\n", encoding="utf-8")
    result = _cli("import", "missing.yaml", "broken.yaml", "--out", "out", cwd=tmp_path)
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert lines[:2] == [
        "pytest-runs import: cannot import missing.yaml",
        "  file: cannot be read (No such file or directory)",
    ]
    assert "pytest-runs import: cannot import broken.yaml" in lines
    assert any(line.startswith("  line 3, column 1: not YAML that can be read safely") for line in lines)
    assert lines[-1] == "pytest-runs import: 0 of 2 file(s) imported into out, 2 failed"
    assert not (tmp_path / "out").exists()


# -- pytest-runs show --------------------------------------------------------------------------------------------------

ID = r"\S+"  # IDs are normalised placeholders; the tests do not depend on their spelling
X = TIMES  # the multiplication sign of counts


def _show(tmp_path: Path, name: str) -> tuple[str, Path]:
    path = tmp_path / f"{Path(name).stem}.yaml"
    path.write_text(_imported(name).text, encoding="utf-8")
    result = _cli("show", path.name, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == render_timeline(load_cassette(path), path.name)  # the same in-process
    assert _cli("show", path.name, cwd=tmp_path).stdout == result.stdout  # and stable
    return result.stdout, path


def _has_line(output: str, pattern: str) -> None:
    assert any(re.fullmatch(pattern, line) for line in output.splitlines()), (
        f"no line matches {pattern!r}:\n{output}"
    )


@needs_realworld
def test_show_collapses_polls_and_shows_final_runs(tmp_path: Path) -> None:
    output, path = _show(tmp_path, "openllmetry__test_new_assistant_with_polling.yaml")
    lines = output.splitlines()
    assert lines[0] == f"{path.name}: 25 interaction(s), 0 stream(s)"
    assert re.fullmatch(
        rf'#1 POST /v1/assistants \(model=gpt-4o-mini, tools=code_interpreter\) → 200 assistant {ID} "Math Tutor"',
        lines[1],
    )
    _has_line(
        output, rf"#4 POST /v1/threads/{ID}/runs \(assistant_id={ID}, stream=false\) → 200 run {ID}: queued"
    )
    _has_line(output, rf"#5-23 GET /v1/threads/{ID}/runs/{ID} {X}19: in_progress {X}18 → completed")
    _has_line(
        output, rf"#24 GET /v1/threads/{ID}/messages\?order=asc → 200 list of 2 \(thread.message {X}2\)"
    )
    reply = _recorded_replies(_imported("openllmetry__test_new_assistant_with_polling.yaml").cassette)[0]
    assert f"      assistant: {json.dumps(reply, ensure_ascii=False)}" in lines
    assert lines[-2] == "runs:"
    _has_line(output, rf"  {ID}: completed; usage 381 prompt \+ 88 completion = 469 tokens")


@needs_realworld
def test_show_counts_stream_events_and_joins_the_message_text(tmp_path: Path) -> None:
    output, _ = _show(tmp_path, "openai-dotnet__StreamingToolCall.json")
    _has_line(
        output, rf"#1 POST /v1/assistants \(model=gpt-4o, tools=get_current_weather\) → 200 assistant {ID}"
    )
    _has_line(
        output, rf"#2 POST /v1/threads/runs \(assistant_id={ID}, stream=true\) → 200 stream of 10 events"
    )
    assert (
        "      events: thread.created, thread.run.created, thread.run.queued, thread.run.in_progress, "
        f"thread.run.step.created, thread.run.step.in_progress, thread.run.step.delta {X}2, "
        "thread.run.requires_action, done" in output.splitlines()
    )
    _has_line(output, rf"      run {ID}: queued {X}2 → in_progress → requires_action")
    _has_line(
        output,
        rf"#3 POST /v1/threads/{ID}/runs/{ID}/submit_tool_outputs \(stream=true, tool_outputs=1\) → 200 stream of 51 "
        "events",
    )
    _has_line(
        output, rf"      events: thread.run.step.completed {X}2, .*thread.message.delta {X}40, .*, done"
    )
    _has_line(
        output, rf'      text \({ID}\): "Since it\'s warm and sunny outside, you should consider wearing .*"'
    )
    _has_line(output, rf"  {ID}: completed; usage 544 prompt \+ 54 completion = 598 tokens")


def test_show_names_a_file_it_cannot_read(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("version: 1\ninteractions: 3\n", encoding="utf-8")
    result = _cli("show", "bad.yaml", "missing.yaml", cwd=tmp_path)
    assert result.returncode == 1
    assert "pytest-runs: cannot load cassette bad.yaml\n  line 2 (interactions): " in result.stderr
    assert "pytest-runs show: missing.yaml does not exist or is not a file" in result.stderr


# -- pytest-runs check -------------------------------------------------------------------------------------------------


def _line_number(text: str, line: str) -> int:
    return text.splitlines().index(line) + 1


@needs_realworld
def test_check_passes_good_cassettes_with_a_one_line_summary(tmp_path: Path) -> None:
    cassettes = tmp_path / "cassettes"
    cassettes.mkdir()
    names = ["openllmetry__test_new_assistant_with_polling.yaml", "openai-dotnet__StreamingToolCall.json"]
    for name in names:
        (cassettes / f"{Path(name).stem}.yaml").write_text(_imported(name).text, encoding="utf-8")
    result = _cli("check", cwd=tmp_path)  # default: the project's cassette directory
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == "pytest-runs check: 2 cassette(s) OK (28 interaction(s), 2 stream(s))\n"
    assert result.stderr == ""


@needs_realworld
def test_check_fails_on_corrupted_copies_naming_file_line_field_and_problem(tmp_path: Path) -> None:
    cassettes = tmp_path / "cassettes"
    cassettes.mkdir()
    good = _imported("openllmetry__test_new_assistant_with_polling.yaml").text
    (cassettes / "good.yaml").write_text(good, encoding="utf-8")

    bad_status = good.replace("    status: 200\n", "    status: two hundred\n", 1)
    (cassettes / "status.yaml").write_text(bad_status, encoding="utf-8")
    status_line = _line_number(bad_status, "    status: two hundred")

    stream = _imported("openai-dotnet__StreamingRunWorks.json").cassette.model_copy(deep=True)
    body = stream.interactions[2].response.body
    assert isinstance(body, SSEBody)
    body.sse[1].data = '{"id":"run_1","status":'
    broken_stream = dump_cassette(stream)
    (cassettes / "stream.yaml").write_text(broken_stream, encoding="utf-8")
    data_line = _line_number(broken_stream, """        data: '{"id":"run_1","status":'""")

    key = "sk-proj-" + _random(40)
    leaky = good.replace(f"content: {QUESTION}", f"content: {key} {QUESTION}", 1)
    (cassettes / "leak.yaml").write_text(leaky, encoding="utf-8")
    leak_line = _line_number(leaky, f"        content: {key} {QUESTION}")

    (cassettes / "v2.yaml").write_text(good.replace("version: 1", "version: 2"), encoding="utf-8")
    shutil.copy(REALWORLD / "openllmetry__test_existing_assistant.yaml", cassettes / "raw-vcrpy.yaml")

    result = _cli("check", "cassettes", cwd=tmp_path)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert len(lines) == 5, result.stdout
    assert lines[0].startswith(
        f"cassettes/leak.yaml: line {leak_line} (interactions[2].request.body.json.content): a string shaped like "
        "an API key: content: sk-proj-<masked> I need to solve"
    )
    assert lines[1].startswith(
        "cassettes/raw-vcrpy.yaml: line 2 (interactions[0].request.url): Field required (and "
    )
    assert lines[1].endswith(
        "(this is a vcrpy recording: convert it with `pytest-runs import cassettes/raw-vcrpy.yaml`)"
    )
    assert lines[2].startswith(
        f"cassettes/status.yaml: line {status_line} (interactions[0].response.status): Input should be a valid integer"
    )
    assert lines[3].startswith(
        f"cassettes/stream.yaml: line {data_line} (interactions[2].response.body.sse[1].data): event "
        "'thread.run.queued': data looks like JSON but does not parse (Expecting value: line 1 column 24"
    )
    assert lines[4].startswith("cassettes/v2.yaml: line 2: unsupported cassette format: version 2;")
    assert key not in result.stdout + result.stderr
    assert result.stderr == "pytest-runs check: 5 problem(s) in 5 of 6 cassette(s)\n"


def test_check_reports_a_missing_default_directory(tmp_path: Path) -> None:
    result = _cli("check", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == (
        "pytest-runs check: cassettes does not exist (the project's cassette directory; pass paths to check others)\n"
    )


def test_check_paths_in_process_counts_cassettes(tmp_path: Path) -> None:
    cassette = CassetteFile.model_validate(
        {
            "interactions": [
                {
                    "request": {"method": "GET", "url": "http://x/v1/threads/thread_1/runs/run_1"},
                    "response": {"status": 200, "body": {"sse": [{"event": "done", "data": "[DONE]"}]}},
                }
            ]
        }
    )
    (tmp_path / "one.yaml").write_text(dump_cassette(cassette), encoding="utf-8")
    (tmp_path / "notes.txt").write_text("not a cassette\n", encoding="utf-8")  # only YAML files are checked
    report = check_paths([tmp_path], Rules.build())
    assert (report.files, report.interactions, report.streams, report.problems) == (1, 1, 1, [])
