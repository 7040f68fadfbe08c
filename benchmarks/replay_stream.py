"""Benchmark: replaying a 10,000-delta run stream through the openai SDK, against the in-memory lower bound.

The stream is recorded once from the emulator (through the real recorder). Then, best of N rounds each:

* lower bound: the same response bytes served by an in-memory ``httpx2.MockTransport``;
* replay: load the cassette file, then replay it through pytest-runs' transport stub;

both consumed by ``client.beta.threads.runs.create(..., stream=True)``. Prints the ratio replay / lower bound.

    python benchmarks/replay_stream.py [--deltas 10000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path

import httpx2
import openai

from pytest_runs.activation import activate
from pytest_runs.bodies import body_bytes
from pytest_runs.emulator import Emulator
from pytest_runs.session import Cassette

warnings.simplefilter("ignore", DeprecationWarning)


def consume(client: openai.OpenAI, thread_id: str, assistant_id: str, metadata: dict[str, str]) -> int:
    stream = client.beta.threads.runs.create(
        thread_id=thread_id, assistant_id=assistant_id, stream=True, metadata=metadata
    )
    return sum(1 for _ in stream)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deltas", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    # The emulator cuts the reply into at most one delta per character, and metadata values hold at most 512
    # characters: 500 characters give 500 deltas until the emulator can make longer streams.
    metadata = {
        "emulator_deltas": str(args.deltas),
        "emulator_event_delay_ms": "0",
        "emulator_reply": "w " * 250,
    }
    path = Path(tempfile.mkdtemp()) / "stream.yaml"

    with Emulator(event_delay=0) as emulator:
        recorder = Cassette(path, "once")
        with activate(recorder):
            client = openai.OpenAI(base_url=emulator.base_url, api_key="bench-key", max_retries=0)
            assistant = client.beta.assistants.create(model="gpt-4o")
            thread = client.beta.threads.create()
            events = consume(client, thread.id, assistant.id, metadata)
        recorder.save()
    stream_interaction = recorder.interactions[-1]
    payload = body_bytes(stream_interaction.response.body)
    headers = [("content-type", "text/event-stream; charset=utf-8")]

    def lower_bound() -> float:
        transport = httpx2.MockTransport(
            lambda request: httpx2.Response(200, headers=headers, content=payload)
        )
        client = openai.OpenAI(
            base_url="http://mock/v1",
            api_key="k",
            max_retries=0,
            http_client=httpx2.Client(transport=transport),
        )
        started = time.perf_counter()
        assert consume(client, thread.id, assistant.id, metadata) == events
        return time.perf_counter() - started

    def replay() -> float:
        started = time.perf_counter()
        cassette = Cassette(path, "none")  # loads and validates the file
        with activate(cassette):
            client = openai.OpenAI(base_url="http://replay.invalid/v1", api_key="k", max_retries=0)
            client.beta.assistants.create(model="gpt-4o")
            client.beta.threads.create()
            assert consume(client, thread.id, assistant.id, metadata) == events
        return time.perf_counter() - started

    base = min(lower_bound() for _ in range(args.rounds))
    ours = min(replay() for _ in range(args.rounds))
    size = path.stat().st_size
    print(f"stream: {events} events, cassette {size / 1e6:.1f} MB")
    print(f"in-memory MockTransport (lower bound): {base * 1000:.0f} ms")
    print(f"pytest-runs replay incl. cassette load:  {ours * 1000:.0f} ms")
    print(f"ratio: {ours / base:.2f} (target <= 1.10)")


if __name__ == "__main__":
    main()
