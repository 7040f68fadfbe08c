"""A cache of parsed cassettes, so a large cassette's YAML is parsed once, not on every test run.

libyaml builds a Python object for every node, and a stream of thousands of events has hundreds of thousands of
nodes: parsing costs far more than replaying. After a large cassette has been parsed and validated, its validated
form and the bytes replay sends are kept in ``marshal`` format (plain data, which loads two orders of magnitude
faster than the YAML) under a name made of the cassette's path and the SHA-256 of its bytes, salted with the
package version and the format's schema. Any edit of the file changes the hash, so a stale entry is never used; an
entry that does not load is ignored and replaced. The YAML file stays the only source of truth. (``marshal`` only
builds data; like everything in ``.pytest_cache``, the entries are trusted as much as the project's own files.)

The plugin keeps the cache in pytest's cache directory (``.pytest_cache/d/pytest-runs``), so ``--cache-clear``
empties it and ``-p no:cacheprovider`` turns it off.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import hashlib
import importlib.metadata
import json
import marshal
from collections.abc import Callable, Iterator
from pathlib import Path

from .bodies import body_chunks
from .cassette import FORMAT_VERSION, CassetteFile, SSEBody

__all__ = ["MIN_CACHED_BYTES", "cached_parse", "gc_paused"]

MIN_CACHED_BYTES = 64 * 1024
"""Smaller cassettes parse in a few milliseconds; caching them would only add files."""


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a cassette's objects are built.

    Loading creates hundreds of thousands of acyclic containers; each allocation burst triggers collections that
    walk the whole heap and can cost more than the load itself.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@functools.cache
def _schema_salt() -> bytes:
    # The schema changes whenever the cassette models do, so an entry written by another version is never read.
    # The package version too: replay bytes are kept in the entry, and their encoding may change without the schema.
    schema = json.dumps(CassetteFile.model_json_schema(by_alias=True), sort_keys=True)
    try:
        version = importlib.metadata.version("pytest-runs")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    return f"pytest-runs {version} cassette cache, format {FORMAT_VERSION}\n{schema}\n".encode()


def _entry_prefix(path: Path) -> str:
    return hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:16]


def _entry_path(cache_dir: Path, path: Path, data: bytes) -> Path:
    content = hashlib.sha256(_schema_salt() + data).hexdigest()[:32]
    return cache_dir / f"{_entry_prefix(path)}-{content}.cache"


def _read(entry: Path) -> CassetteFile | None:
    try:
        with gc_paused():
            stored = marshal.loads(entry.read_bytes())
            cassette = CassetteFile.model_validate(stored["cassette"])
            for index, chunks in stored["wire"]:
                body = cassette.interactions[index].response.body
                if not isinstance(body, SSEBody) or not all(isinstance(chunk, bytes) for chunk in chunks):
                    return None
                body._wire = chunks
            return cassette
    # Missing, unreadable or not what we wrote (pydantic's ValidationError is a ValueError): parse the YAML instead.
    except (OSError, ValueError, EOFError, KeyError, IndexError, TypeError, AttributeError):
        return None


def _cache_bytes(cassette: CassetteFile) -> bytes:
    # Stream bodies are kept with the exact chunks replay sends.
    wire = [
        (index, body_chunks(interaction.response.body))
        for index, interaction in enumerate(cassette.interactions)
        if isinstance(interaction.response.body, SSEBody)
    ]
    return marshal.dumps(
        {"cassette": cassette.model_dump(mode="json", by_alias=True, round_trip=True), "wire": wire}
    )


def _write(entry: Path, cassette: CassetteFile) -> None:
    from .storage import write_atomic  # storage loads through this module: imported here, not at the top

    # The cache is an optimisation: failing to write it (read-only checkout, full disk) must not fail a test.
    with contextlib.suppress(OSError):
        _forget(entry.parent, entry.name.split("-")[0])
        write_atomic(entry, _cache_bytes(cassette))


def _forget(cache_dir: Path, prefix: str) -> None:
    """Remove every entry of one cassette (``prefix`` is its path's part of the entry names)."""
    with contextlib.suppress(OSError):
        for stale in cache_dir.glob(f"{prefix}-*.cache"):
            stale.unlink()


def cached_parse(
    path: Path, data: bytes, cache_dir: Path | None, parse: Callable[[], CassetteFile]
) -> CassetteFile:
    """The cassette whose file at ``path`` holds ``data``: from the cache when it has an entry for exactly these
    bytes, else from ``parse()`` (whose errors propagate), then remembered when the file is large."""
    if cache_dir is None or len(data) < MIN_CACHED_BYTES:
        if cache_dir is not None:
            _forget(
                cache_dir, _entry_prefix(path)
            )  # a cassette that shrank leaves no entry of its former content behind
        with gc_paused():
            return parse()
    entry = _entry_path(cache_dir, path, data)
    cached = _read(entry)
    if cached is not None:
        return cached
    with gc_paused():
        cassette = parse()
    _write(entry, cassette)
    return cassette
