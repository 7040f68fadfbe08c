"""Turning a cassette on for a test and off again: interception, the network guard, the warning filter.

Everything installed here is undone on exit, in reverse order, whether the test passed, failed or was interrupted.
"""

from __future__ import annotations

import contextlib
import contextvars
import warnings
from collections.abc import Iterator

from .guard import block_network
from .intercept import patched
from .session import Cassette

__all__ = ["ASSISTANTS_DEPRECATIONS", "activate", "active_cassette"]

# The cassette of the block being run, for what must find it without being handed it (snapshot extensions, which
# syrupy builds itself). A context variable, so concurrent tasks and threads each see their own.
_ACTIVE: contextvars.ContextVar[Cassette | None] = contextvars.ContextVar(
    "pytest_runs_active_cassette", default=None
)


def active_cassette() -> Cassette | None:
    """The cassette activated by the innermost :func:`activate` block around the caller, if any."""
    return _ACTIVE.get()


ASSISTANTS_DEPRECATIONS = (r"The Assistants API is deprecated", r"deprecated$")
"""The messages of the ``DeprecationWarning`` the openai SDK emits on Assistants calls (runs and threads say the
first; ``beta.assistants`` methods say just "deprecated").

It is ignored inside tests that use a cassette (and only there), so suites run with ``-W error`` keep working: the
API being deprecated upstream is the reason those cassettes exist.
"""


@contextlib.contextmanager
def activate(cassette: Cassette) -> Iterator[Cassette]:
    """Route HTTP through ``cassette`` for the duration of the block (and block the network when it only replays)."""
    with contextlib.ExitStack() as stack:
        stack.enter_context(warnings.catch_warnings())
        for message in ASSISTANTS_DEPRECATIONS:
            warnings.filterwarnings("ignore", message=message, category=DeprecationWarning)
        stack.enter_context(patched(cassette))
        if not cassette.is_recording:
            stack.enter_context(block_network(cassette.describe_blocked, cassette.errors.append))
        token = _ACTIVE.set(cassette)
        stack.callback(_ACTIVE.reset, token)
        yield cassette
