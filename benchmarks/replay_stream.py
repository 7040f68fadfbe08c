"""Benchmark: replaying a 10,000-delta run stream through the openai SDK, against the in-memory lower bound.

The stream is recorded once from the emulator (through the real recorder). Then, best of N rounds each:

* lower bound: the same response bytes served by an in-memory ``httpx2.MockTransport``;
* replay: load the cassette file, then replay it through pytest-runs' transport stub;

both consumed by ``client.beta.threads.runs.create(..., stream=True)``. Prints the ratio replay / lower bound twice:
with a warm load cache (what every test run after the first sees, the cassette being unchanged) and with a cold one
(the YAML parsed, as on a fresh checkout).

    python benchmarks/replay_stream.py [--deltas 10000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import shutil
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
    # The emulator cuts the reply into at most one delta per character: repeat a short reply until it is long enough.
    metadata = {
        "emulator_deltas": str(args.deltas),
        "emulator_event_delay_ms": "0",
        "emulator_reply": "w ",
        "emulator_reply_repeat": str(args.deltas),
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

    cache_dir = path.parent / "load-cache"

    def replay(*, cold: bool = False) -> float:
        if cold:
            shutil.rmtree(cache_dir, ignore_errors=True)
        # As for the lower bound, building the client (which loads the CA bundle) is not part of the measure.
        client = openai.OpenAI(base_url="http://replay.invalid/v1", api_key="k", max_retries=0)
        started = time.perf_counter()
        cassette = Cassette(path, "none", load_cache_dir=cache_dir)  # loads and validates the file
        with activate(cassette):
            assert consume(client, thread.id, assistant.id, metadata) == events
        return time.perf_counter() - started

    base = min(lower_bound() for _ in range(args.rounds))
    cold = min(replay(cold=True) for _ in range(args.rounds))
    warm = min(replay() for _ in range(args.rounds))
    size = path.stat().st_size
    print(f"stream: {events} events, cassette {size / 1e6:.1f} MB")
    print(f"in-memory MockTransport (lower bound):           {base * 1000:6.0f} ms")
    print(f"pytest-runs replay incl. load, warm load cache:  {warm * 1000:6.0f} ms  ratio {warm / base:.2f}")
    print(f"pytest-runs replay incl. load, cold (YAML parse): {cold * 1000:5.0f} ms  ratio {cold / base:.2f}")
    print(f"ratio: {warm / base:.2f} (target <= 1.10, warm load cache)")


if __name__ == "__main__":
    main()
