"""The fixtures pytest-runs provides (registered by :mod:`pytest_runs.plugin`)."""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from . import state
from .activation import activate
from .errors import RequestConstraintWarning
from .session import Cassette
from .settings import resolve

if TYPE_CHECKING:
    from .emulator import Emulator

__all__ = ["async_openai_client", "openai_client", "runs_cassette", "runs_emulator"]

REPLAY_API_KEY = "pytest-runs-replay-key"
"""The API key clients get while replaying: the SDK insists on one, and no request reaches a server."""


@pytest.fixture
def runs_cassette(request: pytest.FixtureRequest) -> Iterator[Cassette]:
    """The test's cassette, active for the whole test: httpx/httpx2 requests replay from it or record into it.

    Requesting this fixture does what the ``runs_cassette`` marker does. The cassette is saved (atomically) at the
    end of the test only if the test passed; a failing or interrupted test never replaces a cassette. Gives a
    :class:`pytest_runs.Cassette` (``path``, ``record_mode``, ``interactions``, ``runs``, ``events``).
    """
    item = request.node
    settings = resolve(item)
    cassette = Cassette(
        settings.path,
        settings.record_mode,
        display_path=settings.display_path,
        rerecord_command=settings.rerecord_command,
        redaction=settings.redaction,
        normalise=settings.normalise,
        id_prefixes=settings.id_prefixes,
        load_cache_dir=settings.load_cache_dir,
    )
    state.attach(item, cassette)
    with activate(cassette):
        yield cassette
    for problem in cassette.constraint_problems():
        warnings.warn(
            RequestConstraintWarning(f"{item.nodeid}: {settings.display_path}: {problem}"), stacklevel=1
        )
    state.finish(item, cassette)


@pytest.fixture(autouse=True)
def _runs_cassette_for_marker(request: pytest.FixtureRequest) -> None:
    """Activates ``runs_cassette`` for tests carrying the ``runs_cassette`` marker."""
    if request.node.get_closest_marker("runs_cassette") is not None:
        request.getfixturevalue("runs_cassette")


def _client_arguments(cassette: Cassette) -> dict[str, Any]:
    base_url = os.environ.get("OPENAI_BASE_URL") or None
    if not cassette.is_recording:
        return {"api_key": REPLAY_API_KEY, "base_url": base_url, "max_retries": 0}
    api_key = os.environ.get("OPENAI_API_KEY")
    if not api_key:
        pytest.fail(
            f"pytest-runs: recording {cassette.path.name} (record mode {cassette.record_mode}) needs OPENAI_API_KEY "
            "in the environment, and OPENAI_BASE_URL for a server other than api.openai.com.\n"
            "To record against the embedded emulator instead: start it with `python -m pytest_runs.emulator` and "
            "set OPENAI_BASE_URL to the address it prints and OPENAI_API_KEY to any value.",
            pytrace=False,
        )
    return {"api_key": api_key, "base_url": base_url, "max_retries": 0}


def _openai() -> Any:
    try:
        import openai
    except ImportError:
        pytest.fail(
            "pytest-runs: this fixture needs the openai package: pip install 'pytest-runs[openai]'",
            pytrace=False,
        )
    return openai


@pytest.fixture
def openai_client(runs_cassette: Cassette) -> Iterator[Any]:
    """An ``openai.OpenAI`` client for the current mode, its requests going through ``runs_cassette``.

    Replaying: a placeholder key and ``max_retries=0``. Recording: ``OPENAI_API_KEY`` and ``OPENAI_BASE_URL`` from
    the environment, also with ``max_retries=0``, so that a replay makes exactly the calls the recording made.
    """
    client = _openai().OpenAI(**_client_arguments(runs_cassette))
    yield client
    client.close()


@pytest.fixture
def async_openai_client(runs_cassette: Cassette) -> Any:
    """An ``openai.AsyncOpenAI`` client for the current mode, configured like ``openai_client``.

    Close it in the test (``async with async_openai_client:``): a synchronous fixture cannot await the close on the
    test's event loop, and a recording client holds open connections."""
    return _openai().AsyncOpenAI(**_client_arguments(runs_cassette))


@pytest.fixture
def run_snapshot(snapshot: Any, request: pytest.FixtureRequest) -> Any:
    """syrupy's ``snapshot`` with pytest-runs' extension: runs (ours or the SDK's), stream events, transcripts,
    dicts and plain values are written one field per line, nested models expanded, IDs and timestamps through the
    cassette's normaliser, so the snapshot taken while recording equals the one taken while replaying. ``exclude=``,
    ``include=`` and ``matcher=`` work at any depth: ``assert run == run_snapshot(exclude=props("usage"))``."""
    from .snapshot import RunSnapshotExtension

    # The project's rules (runs_secret_env, runs_redact, the hook) also guard snapshots taken without a cassette.
    rules = resolve(request.node).redaction
    extension = type("RunSnapshotExtension", (RunSnapshotExtension,), {"redaction": rules})
    return snapshot.use_extension(extension)


@pytest.fixture(scope="session")
def runs_emulator() -> Iterator[Emulator]:
    """A running Assistants-compatible emulator on 127.0.0.1 (``.base_url`` for clients), shared by the session."""
    from .emulator import Emulator

    with Emulator() as emulator:
        yield emulator
