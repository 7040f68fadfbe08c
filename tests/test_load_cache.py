"""The load cache: a large cassette's YAML is parsed once; later loads give exactly the same cassette and chunks."""

from __future__ import annotations

import marshal
import os
from pathlib import Path

import pytest

from pytest_runs.bodies import body_chunks, body_from_bytes
from pytest_runs.cassette import CassetteFile, Interaction, RecordedRequest, RecordedResponse, SSEBody
from pytest_runs.load_cache import MIN_CACHED_BYTES
from pytest_runs.storage import dump_cassette, load_cassette, write_atomic


def _stream_cassette(events: int) -> CassetteFile:
    frames = [
        'event: thread.message.delta\ndata: {"id":"msg_1","delta":{"content":[{"index":0,"text":{"value":"w "}}]}}\n\n'
    ] * events
    # Two frames the canonical encoding cannot give back, so ``raw`` is kept for them.
    frames[1] = 'event: thread.message.delta\r\ndata: {"id": "msg_1"}\r\n\r\n'
    frames.append("data: [DONE]\n\n")
    body = body_from_bytes("".join(frames).encode(), "text/event-stream")
    return CassetteFile(
        interactions=[
            Interaction(
                request=RecordedRequest(
                    method="POST", url="http://127.0.0.1:1/v1/threads/t/runs", headers={}
                ),
                response=RecordedResponse(
                    status=200, headers={"content-type": "text/event-stream"}, body=body
                ),
            )
        ]
    )


def _write(path: Path, cassette: CassetteFile) -> None:
    write_atomic(path, dump_cassette(cassette))


def _entries(cache: Path) -> list[Path]:
    return sorted(cache.glob("*.cache")) if cache.exists() else []


@pytest.fixture
def large(tmp_path: Path) -> Path:
    path = tmp_path / "large.yaml"
    _write(path, _stream_cassette(2000))
    assert path.stat().st_size >= MIN_CACHED_BYTES
    return path


def test_second_load_comes_from_the_cache_and_is_identical(large: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    parsed = load_cassette(large)
    first = load_cassette(large, cache_dir=cache)
    [entry] = _entries(cache)
    second = load_cassette(large, cache_dir=cache)

    assert first == parsed
    assert second == parsed
    # The entry was really read: a marker planted in it shows up in what the load returned.
    stored = marshal.loads(entry.read_bytes())
    stored["cassette"]["interactions"][0]["response"]["status"] = 299
    entry.write_bytes(marshal.dumps(stored))
    assert load_cassette(large, cache_dir=cache).interactions[0].response.status == 299
    # The replayed chunks from the cache are the ones the events encode to, raw frames included.
    body = second.interactions[0].response.body
    assert isinstance(body, SSEBody)
    assert body._wire is not None
    expected = body_chunks(parsed.interactions[0].response.body)
    assert body_chunks(body) == expected
    assert expected[1] == b'event: thread.message.delta\r\ndata: {"id": "msg_1"}\r\n\r\n'


def test_an_edited_file_is_parsed_again_and_replaces_its_stale_entry(large: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    load_cassette(large, cache_dir=cache)
    [old_entry] = _entries(cache)
    text = large.read_text(encoding="utf-8").replace("status: 200", "status: 201")
    large.write_text(text, encoding="utf-8")

    assert load_cassette(large, cache_dir=cache).interactions[0].response.status == 201
    [new_entry] = _entries(cache)
    assert new_entry != old_entry


def test_a_damaged_entry_is_ignored_and_rewritten(large: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    load_cassette(large, cache_dir=cache)
    [entry] = _entries(cache)
    entry.write_text('{"cassette": {"interactions": "not a list"}', encoding="utf-8")

    assert load_cassette(large, cache_dir=cache) == load_cassette(large)
    assert marshal.loads(entry.read_bytes())["cassette"]["version"] == 1


def test_small_cassettes_are_not_cached(tmp_path: Path) -> None:
    path = tmp_path / "small.yaml"
    _write(path, _stream_cassette(3))
    cache = tmp_path / "cache"
    assert load_cassette(path, cache_dir=cache) == load_cassette(path)
    assert _entries(cache) == []


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="needs a directory the user cannot write")
def test_an_unwritable_cache_does_not_fail_the_load(large: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    cache.chmod(0o500)
    try:
        assert load_cassette(large, cache_dir=cache) == load_cassette(large)
        assert _entries(cache) == []
    finally:
        cache.chmod(0o700)


def test_a_broken_cassette_is_still_diagnosed_with_a_cache(large: Path, tmp_path: Path) -> None:
    from pytest_runs.errors import CassetteFormatError

    cache = tmp_path / "cache"
    load_cassette(large, cache_dir=cache)
    large.write_text(
        large.read_text(encoding="utf-8").replace("status: 200", "status: [200"), encoding="utf-8"
    )
    with pytest.raises(CassetteFormatError, match="not valid YAML"):
        load_cassette(large, cache_dir=cache)


def test_the_plugin_keeps_the_cache_in_pytests_cache_directory(pytester: pytest.Pytester) -> None:
    cassette_dir = pytester.path / "cassettes" / "test_big"
    cassette_dir.mkdir(parents=True)
    _write(cassette_dir / "test_stream.yaml", _stream_cassette(2000))
    pytester.makepyfile(
        test_big="""
        import httpx

        def test_stream(runs_cassette):
            with httpx.Client() as client:
                with client.stream("POST", "http://api.invalid/v1/threads/t/runs") as response:
                    chunks = list(response.iter_raw())
            assert len(chunks) == 2001
        """
    )
    pytester.runpytest_subprocess().assert_outcomes(passed=1)
    assert len(_entries(pytester.path / ".pytest_cache" / "d" / "pytest-runs")) == 1
    pytester.runpytest_subprocess().assert_outcomes(passed=1)
    # Without pytest's cache plugin nothing is cached, and replay works the same.
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)
