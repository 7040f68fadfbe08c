"""Identifier and timestamp generation for the emulator.

Two modes:

* **live-like** (``seed=None``): identifiers are random and timestamps are the current unix time, so whatever
  records the emulator sees volatile values and its normalisation gets exercised;
* **seeded**: identifiers come from :class:`random.Random` seeded with the given seed and timestamps start at
  :data:`SEEDED_EPOCH`, advancing by one second every time a timestamp is handed out, so two emulators with
  the same seed answer the same sequence of calls byte for byte.
"""

from __future__ import annotations

import random
import string
import threading
import time
from collections.abc import Hashable

__all__ = ["BASE62", "ID_LENGTH", "SEEDED_EPOCH", "Clock", "IdFactory"]

#: Alphabet of the real object identifiers (``asst_``, ``thread_``, ``run_``, ``msg_``, ``step_``, ``call_``).
BASE62 = string.ascii_letters + string.digits
#: Number of base62 characters after the prefix, as the real API issues them.
ID_LENGTH = 24
#: First timestamp handed out by a seeded clock (2023-11-14T22:13:20Z).
SEEDED_EPOCH = 1_700_000_000


class Clock:
    """Unix-second timestamps: wall-clock time, or a deterministic counter when seeded."""

    def __init__(self, seeded: bool, epoch: int = SEEDED_EPOCH) -> None:
        """Create a clock; ``seeded`` selects the deterministic counter starting at ``epoch``."""
        self._seeded = seeded
        self._next = epoch
        # The counter is shared by every request thread.
        self._lock = threading.Lock()

    @property
    def seeded(self) -> bool:
        """Whether the clock is the deterministic counter."""
        return self._seeded

    def now(self) -> int:
        """Return a timestamp for a new event (a seeded clock advances by one on every call)."""
        if not self._seeded:
            return int(time.time())
        with self._lock:
            value = self._next
            self._next += 1
            return value

    def peek(self) -> int:
        """Return the current time without advancing a seeded clock (used for the ``date`` header)."""
        if not self._seeded:
            return int(time.time())
        with self._lock:
            return self._next


class IdFactory:
    """Issues object identifiers (``prefix`` + 24 base62) and request identifiers (``req_`` + 32 hex)."""

    def __init__(self, seed: Hashable | None) -> None:
        """Create a factory; with a ``seed`` every sequence of identifiers is reproducible."""
        if seed is None:
            self._objects = random.Random()
            self._requests = random.Random()
        else:
            # Two independent streams: the object identifiers must not shift when a client sends one request
            # more or less (a retry, an extra poll), since the bodies are what callers compare.
            # Seeded through str() so that ``--seed 3`` on the command line equals ``seed=3`` in Python.
            self._objects = random.Random(f"objects:{seed}")
            self._requests = random.Random(f"requests:{seed}")
        self._lock = threading.Lock()

    def new(self, prefix: str) -> str:
        """Return a fresh identifier such as ``run_`` followed by 24 base62 characters."""
        with self._lock:
            return prefix + "".join(self._objects.choice(BASE62) for _ in range(ID_LENGTH))

    def request_id(self) -> str:
        """Return a fresh ``x-request-id`` value: ``req_`` followed by 32 lowercase hex digits."""
        with self._lock:
            return f"req_{self._requests.getrandbits(128):032x}"

    def hex(self, digits: int) -> str:
        """Return ``digits`` random lowercase hex digits (``cf-ray`` and cookie values; reproducible if seeded)."""
        with self._lock:
            return f"{self._requests.getrandbits(4 * digits):0{digits}x}"

    def processing_ms(self) -> int:
        """Return a plausible ``openai-processing-ms`` value for seeded servers (reproducible)."""
        with self._lock:
            return self._requests.randint(20, 400)
