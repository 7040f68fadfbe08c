"""Deterministic cassettes: IDs and timestamps become stable placeholders, and matching works under the mapping."""

from __future__ import annotations

import gzip
import json
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from pytest_runs.activation import activate
from pytest_runs.emulator import Emulator
from pytest_runs.normalise import TIME_BASE, Normaliser
from pytest_runs.session import Cassette
from pytest_runs.sse import decode_all
from pytest_runs.storage import dump_cassette, load_cassette

REALWORLD = Path(__file__).resolve().parents[2] / "shared" / "realworld"
UNKNOWN_THREAD = "thread_" + "NoSuchThread0123456789ab"
FUNCTION_TOOL = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}


@pytest.fixture(autouse=True)
def _quiet_deprecations() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        yield


def _scenario(client: openai.OpenAI, assistant_id: str | None = None) -> dict[str, Any]:
    """Calls that carry IDs everywhere: paths, query strings, bodies, SSE data, an error message."""
    if assistant_id is None:
        assistant_id = client.beta.assistants.create(model="gpt-4o", name="helper", tools=[FUNCTION_TOOL]).id
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "Weather?"}])
    with client.beta.threads.runs.stream(thread_id=thread.id, assistant_id=assistant_id) as stream:
        names = [event.event for event in stream]
        run = stream.get_final_run()
    call = run.required_action.submit_tool_outputs.tool_calls[0]  # type: ignore[union-attr]
    finished = client.beta.threads.runs.submit_tool_outputs_and_poll(
        run_id=run.id, thread_id=thread.id, tool_outputs=[{"tool_call_id": call.id, "output": "sunny"}]
    )
    first = client.beta.threads.messages.list(thread_id=thread.id, order="asc", limit=1)
    rest = client.beta.threads.messages.list(thread_id=thread.id, order="asc", after=first.data[0].id)
    try:
        client.beta.threads.retrieve(UNKNOWN_THREAD)
    except openai.NotFoundError as error:
        missing = str(error)
    return {
        "events": names,
        "run": finished.model_dump(mode="json"),
        "messages": [message.model_dump(mode="json") for message in [*first.data, *rest.data]],
        "missing": missing,
    }


def _record(path: Path, emulator: Emulator, assistant_id: str | None = None) -> dict[str, Any]:
    cassette = Cassette(path, "once")
    with activate(cassette), openai.OpenAI(base_url=emulator.base_url, api_key="k", max_retries=0) as client:
        observed = _scenario(client, assistant_id)
    assert cassette.save()
    return {"live": observed, "normalised": cassette.normalised(observed)}


def test_recording_the_same_behaviour_twice_gives_byte_identical_cassettes(tmp_path: Path) -> None:
    # No seed: the emulator makes random IDs and uses the current time, as the real API does.
    with Emulator(event_delay=0, poll_after_ms=0) as emulator:
        first = _record(tmp_path / "first.yaml", emulator)
    time.sleep(1.1)  # so that every timestamp differs between the two recordings
    with Emulator(event_delay=0, poll_after_ms=0) as emulator:
        second = _record(tmp_path / "second.yaml", emulator)

    assert first["live"]["run"]["id"] != second["live"]["run"]["id"]
    assert first["live"]["run"]["created_at"] != second["live"]["run"]["created_at"]
    text = (tmp_path / "first.yaml").read_text(encoding="utf-8")
    assert text == (tmp_path / "second.yaml").read_text(encoding="utf-8")
    # What the file shows: numbered placeholders everywhere, times in 2001, no volatile headers, no port.
    assert "asst_1" in text
    assert "after: msg_" not in text  # the query is part of the URL
    assert "&after=msg_1" in text or "after=msg_1" in text
    assert "No thread found with id 'thread_2'." in text
    assert "date:" not in text
    assert "openai-processing-ms" not in text
    assert "url: http://127.0.0.1/v1/assistants" in text
    # Normalising a normalised cassette changes nothing.
    loaded = load_cassette(tmp_path / "first.yaml")
    assert dump_cassette(Normaliser().cassette(loaded)) == text

    # The normalised observations (what a snapshot sees) are identical too.

    assert first["normalised"] == second["normalised"]
    assert first["normalised"]["run"]["created_at"] >= TIME_BASE


def test_a_snapshot_taken_while_recording_equals_one_taken_while_replaying(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    with Emulator(event_delay=0, poll_after_ms=0) as emulator:
        recorded = _record(path, emulator)
    replay = Cassette(path, "none")
    with (
        activate(replay),
        openai.OpenAI(base_url="http://replay.invalid/v1", api_key="k", max_retries=0) as client,
    ):
        replayed = _scenario(client)
    assert replay.normalised(replayed) == recorded["normalised"]
    # Replay hands out the placeholders themselves, so they are already what a snapshot shows.
    assert replayed["run"]["id"] == recorded["normalised"]["run"]["id"] == "run_1"


def test_a_real_id_from_the_tests_configuration_matches_and_comes_back(tmp_path: Path) -> None:
    path = tmp_path / "literal.yaml"
    with Emulator(event_delay=0, poll_after_ms=0) as emulator:
        with openai.OpenAI(base_url=emulator.base_url, api_key="k", max_retries=0) as setup:
            # Made outside any cassette, as an assistant configured once in a dashboard would be.
            assistant_id = setup.beta.assistants.create(model="gpt-4o", tools=[FUNCTION_TOOL]).id
        recorded = _record(path, emulator, assistant_id)
    assert recorded["live"]["run"]["assistant_id"] == assistant_id
    assert assistant_id not in path.read_text(encoding="utf-8")

    replay = Cassette(path, "none")
    with (
        activate(replay),
        openai.OpenAI(base_url="http://replay.invalid/v1", api_key="k", max_retries=0) as client,
    ):
        replayed = _scenario(client, assistant_id)
    # The literal matched the recorded placeholder, and the replayed objects carry the literal again.
    assert replayed["run"]["assistant_id"] == assistant_id
    assert replayed["run"]["id"] == "run_1"
    assert replay.normalised(replayed) == recorded["normalised"]


def test_a_different_real_id_for_a_placeholder_already_bound_does_not_match(tmp_path: Path) -> None:
    normaliser = Normaliser()
    real, other = "asst_" + "A" * 24, "asst_" + "B" * 24
    assert normaliser.bindings_for(("/threads", real), ("/threads", "asst_1")) == {real: "asst_1"}
    normaliser.commit({real: "asst_1"})
    assert normaliser.bindings_for(("/threads", other), ("/threads", "asst_1")) is None
    assert normaliser.bindings_for(("/threads", real), ("/threads", "asst_2")) is None
    assert (
        normaliser.restore('{"assistant_id":"asst_1","x":"asst_12"}')
        == f'{{"assistant_id":"{real}","x":"asst_12"}}'
    )


def test_the_marker_keeps_real_values_when_asked(pytester: pytest.Pytester) -> None:
    with Emulator(event_delay=0, seed=7) as emulator:
        pytester.makepyfile(
            f"""
            import httpx, pytest

            @pytest.mark.runs_cassette(normalise=False)
            def test_real():
                httpx.post("{emulator.base_url}/assistants", json={{"model": "gpt-4o"}}, headers={{"authorization": "Bearer k"}})

            @pytest.mark.runs_cassette
            def test_normalised():
                httpx.post("{emulator.base_url}/assistants", json={{"model": "gpt-4o"}}, headers={{"authorization": "Bearer k"}})
            """
        )
        pytester.runpytest("--runs-record-mode=once").assert_outcomes(passed=2)
    folder = next((pytester.path / "cassettes").iterdir())
    real = (folder / "test_real.yaml").read_text(encoding="utf-8")
    normalised = (folder / "test_normalised.yaml").read_text(encoding="utf-8")
    assert "id: asst_1\n" not in real
    assert "date:" in real
    assert "id: asst_1\n" in normalised


def test_the_ini_switch_keeps_real_values(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nruns_normalise = false\n")
    with Emulator(event_delay=0) as emulator:
        pytester.makepyfile(
            f"""
            import httpx

            def test_real(runs_cassette):
                httpx.post("{emulator.base_url}/assistants", json={{"model": "gpt-4o"}}, headers={{"authorization": "Bearer k"}})
            """
        )
        pytester.runpytest("--runs-record-mode=once").assert_outcomes(passed=1)
    text = next((pytester.path / "cassettes").rglob("*.yaml")).read_text(encoding="utf-8")
    assert "id: asst_1\n" not in text
    assert "id: asst_" in text


def test_extra_prefixes_from_ini(pytester: pytest.Pytester) -> None:
    normaliser = Normaliser(["ws_"])
    assert normaliser.text("ws_0123456789abcdefXYZ and run_0123456789abcdefXYZ") == "ws_1 and run_1"
    pytester.makeini("[pytest]\nruns_id_prefixes = ws_ job-\n")
    pytester.makepyfile(
        """
        def test_prefixes(runs_cassette):
            value = {"workspace": "ws_0123456789abcdefXYZ", "job": "job-0123456789abcdefXYZ"}
            assert runs_cassette.normalised(value) == {"workspace": "ws_1", "job": "job-1"}
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)


# -- properties --------------------------------------------------------------------------------------------------------

_PREFIXES = st.sampled_from(["asst_", "thread_", "run_", "msg_", "step_", "call_", "file-", "req_"])
_IDS = st.builds(
    lambda prefix, body: prefix + body, _PREFIXES, st.text("abcdefXYZ0123456789", min_size=16, max_size=24)
)
# IDs are delimited: what precedes one ends with a character that cannot be part of an identifier.
_FILLER = st.sampled_from(
    [" ", "/", "?after=", " id '", " run_time ", " step_details: ", " thread_safe/", ", "]
)


@given(st.lists(st.tuples(_FILLER, _IDS), max_size=12))
def test_the_mapping_is_a_bijection_and_idempotent(parts: list[tuple[str, str]]) -> None:
    text = "".join(filler + token for filler, token in parts)
    normaliser = Normaliser()
    once = normaliser.text(text)
    ids = {token for _, token in parts}
    assert len(set(normaliser.to_placeholder.values())) == len(normaliser.to_placeholder) == len(ids)
    for token in ids:
        assert token not in once
    # The placeholders say back exactly the text that was normalised.
    assert normaliser.restore(once) == text
    assert Normaliser().text(once) == once
    assert normaliser.text(once) == once


@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz_ -.", max_size=60))
def test_words_that_only_look_like_ids_are_left_alone(words: str) -> None:
    text = f"run_time {words} step_details thread_safe msg_id call_count file-name"
    assert Normaliser().text(text) == text


@given(st.integers(min_value=1_600_000_000, max_value=1_800_000_000))
def test_times_keep_order_within_an_object_and_are_stable(created: int) -> None:
    run = {
        "id": "run_" + "a" * 24,
        "created_at": created,
        "started_at": created + 1,
        "completed_at": created + 9,
    }
    run["expires_at"] = created + 600
    normalised = Normaliser().value(run)
    assert normalised["created_at"] < normalised["started_at"] < normalised["completed_at"]
    assert normalised["expires_at"] - normalised["created_at"] == 600
    shifted = {**run, "created_at": created + 5, "started_at": created + 7, "completed_at": created + 99}
    shifted["expires_at"] = created + 605
    assert Normaliser().value(shifted) == normalised
    assert Normaliser().value(normalised) == normalised


# -- the real wire -----------------------------------------------------------------------------------------------------


def _vcrpy_payloads(path: Path) -> Iterator[tuple[str, Any]]:
    """(kind, payload) of every JSON body and SSE event of a vcrpy cassette."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    for interaction in data["interactions"]:
        response = interaction["response"]
        body = response["body"]["string"]
        if isinstance(body, bytes):
            encoding = {k.lower(): v for k, v in response.get("headers", {}).items()}.get("content-encoding")
            if encoding and "gzip" in (encoding if isinstance(encoding, list) else [encoding]):
                body = gzip.decompress(body)
            body = body.decode("utf-8")
        if not body:
            continue
        if body.lstrip().startswith(("{", "[")):
            yield "json", json.loads(body)
        else:
            frames, _ = decode_all(body.encode("utf-8"))
            for frame in frames:
                if frame.data and frame.data.startswith("{"):
                    yield f"event {frame.event}", json.loads(frame.data)


def _without_times(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: "<time>" if key.endswith("_at") or key == "created" else _without_times(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_without_times(item) for item in value]
    return value


def _real_cassettes() -> list[Path]:
    if not REALWORLD.is_dir():
        return []
    return sorted([*REALWORLD.glob("openllmetry__*.yaml"), *REALWORLD.glob("agentops__*.yaml")])


@pytest.mark.skipif(not REALWORLD.is_dir(), reason=f"real recordings not available at {REALWORLD}")
@pytest.mark.parametrize("path", _real_cassettes(), ids=lambda path: path.name)
def test_real_recordings_normalise_without_loss_of_structure(path: Path) -> None:
    normaliser = Normaliser()
    payloads = list(_vcrpy_payloads(path))
    assert payloads
    for kind, payload in payloads:
        normalised = normaliser.value(payload)
        # Only IDs and times changed: restoring the IDs gives back the payload, times aside, in the same order.
        restored = json.loads(normaliser.restore(json.dumps(normalised)))
        assert _without_times(restored) == _without_times(payload), kind
        assert list(_without_times(normalised)) == list(_without_times(payload))
    assert normaliser.to_placeholder, "the recording has API IDs"
