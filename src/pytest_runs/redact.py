"""Secrets never reach a cassette: which headers are kept, which are masked, and the scan before every write.

Header policy, on requests and responses alike:

* credentials and account identifiers (:data:`SECRET_HEADERS`) are kept with their value replaced by
  :data:`PLACEHOLDER`, so the cassette still shows the header was there;
* headers that only describe the recording machine or the transfer (``user-agent``, ``x-stainless-*``,
  ``content-length``, ``host``, ``connection``, ``accept-encoding``) are not stored at all.

Before a cassette is written, :func:`find_leaks` searches the exact text about to be written for the values of the
secret environment variables (raw, URL-encoded, base64 and JSON-escaped) and for key-shaped strings; any hit stops
the write.
"""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import quote

__all__ = [
    "DEFAULT_SECRET_ENV",
    "PLACEHOLDER",
    "SECRET_HEADERS",
    "Leak",
    "find_leaks",
    "known_secrets",
    "mask",
    "store_headers",
]

PLACEHOLDER = "<redacted>"
"""What a secret header's value is replaced by."""

SECRET_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "api-key",
        "x-api-key",
        "openai-organization",
        "openai-project",
        "cookie",
        "set-cookie",
    }
)
"""Headers whose values are credentials or identify an account."""

_DROPPED_HEADERS = frozenset({"user-agent", "content-length", "host", "connection", "accept-encoding"})
_DROPPED_PREFIXES = ("x-stainless-",)

DEFAULT_SECRET_ENV = ("OPENAI_API_KEY", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID", "AZURE_OPENAI_API_KEY")
"""Environment variables whose values are secrets wherever they appear."""

# Key shapes: OpenAI keys (sk-, sk-proj-, sk-svcacct-, sk-admin-), session keys, and bearer tokens. The character class
# includes "*" so that keys the API echoes half-masked ("sk-proj-****abcd") are caught as well.
KEY_PATTERN = re.compile(
    r"(?<![A-Za-z0-9])(?:sk-(?:proj-|svcacct-|admin-)?|sess-)[A-Za-z0-9_*-]{8,}|Bearer\s+[A-Za-z0-9._~+/*-]{12,}=*"
)

# Secrets shorter than this are not searched for by value: a 3-character "secret" would match everywhere.
_MIN_SECRET_LENGTH = 8


def store_headers(headers: Iterable[tuple[str, str]]) -> dict[str, str | list[str]]:
    """The headers worth storing, lower-cased, secret values masked, repeated headers as lists."""
    stored: dict[str, str | list[str]] = {}
    for raw_name, raw_value in headers:
        name = raw_name.lower()
        if name in _DROPPED_HEADERS or name.startswith(_DROPPED_PREFIXES):
            continue
        value = PLACEHOLDER if name in SECRET_HEADERS else raw_value
        previous = stored.get(name)
        if previous is None:
            stored[name] = value
        elif isinstance(previous, list):
            previous.append(value)
        else:
            stored[name] = [previous, value]
    return stored


def known_secrets(extra_env: Sequence[str] = (), environ: Mapping[str, str] | None = None) -> list[str]:
    """The values of the secret environment variables that are set (long enough to search for)."""
    environ = os.environ if environ is None else environ
    names = [*DEFAULT_SECRET_ENV, *extra_env]
    return sorted({environ[name] for name in names if len(environ.get(name, "")) >= _MIN_SECRET_LENGTH})


def _encodings(secret: str) -> set[str]:
    """The forms a secret can take in a text file."""
    forms = {secret, quote(secret, safe=""), json.dumps(secret)[1:-1]}
    raw = secret.encode("utf-8")
    forms.add(base64.b64encode(raw).decode("ascii").rstrip("="))
    # base64 of text that contains the secret at an arbitrary offset: the three alignments, minus the edge characters
    # that depend on neighbouring bytes.
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + raw).decode("ascii")
        start = (offset * 4 + 2) // 3 + 1
        inner = encoded[start : len(encoded) - 4]
        if len(inner) >= _MIN_SECRET_LENGTH:
            forms.add(inner)
    return {form for form in forms if form}


def mask(secret: str) -> str:
    """A secret shown safely: its first 3 and last 2 characters."""
    return f"{secret[:3]}…{secret[-2:]}" if len(secret) > 8 else "…"


@dataclass(frozen=True, slots=True)
class Leak:
    """A secret found in text about to be written (never holding the secret itself)."""

    line: int
    what: str
    excerpt: str


def find_leaks(text: str, secrets: Sequence[str]) -> list[Leak]:
    """Every place in ``text`` where a known secret (in any encoding) or a key-shaped string appears."""
    leaks: list[Leak] = []
    lines = text.splitlines()
    for number, line in enumerate(lines, start=1):
        for secret in secrets:
            for form in _encodings(secret):
                if form in line:
                    leaks.append(Leak(number, "the value of a secret environment variable", mask(form)))
                    break
        for match in KEY_PATTERN.finditer(line):
            if PLACEHOLDER in match.group(0):
                continue
            leaks.append(
                Leak(number, "a string shaped like an API key or bearer token", mask(match.group(0)))
            )
    return leaks
