"""``pytest-runs scan``: find secrets in cassettes and other files before they are committed.

Every file is searched line by line as text (our cassettes, plain vcrpy cassettes, any text file). YAML files are also
composed, and every binary or base64 body in them (vcrpy's ``!!binary`` bodies, our ``base64:`` bodies) is decoded,
decompressed when it is gzip, deflate or brotli, and searched too, so a key inside a gzip body is found.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from .bodies import decode_content
from .redact import Leak, Rules, find_leaks

__all__ = ["SKIPPED_DIRS", "Finding", "scan_paths"]

_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# vcrpy writes ``!!binary``; Ruby VCR writes a local ``!binary`` tag, or the ``base64_string`` key; ours is ``base64``.
_BINARY_TAGS = frozenset({"tag:yaml.org,2002:binary", "!binary"})
_BASE64_KEYS = frozenset({"base64", "base64_string"})
SKIPPED_DIRS = frozenset(
    {".git", ".hg", ".svn", ".venv", "venv", "__pycache__", ".pytest_cache", "node_modules"}
)
_MAX_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Finding:
    """A secret found in a file (never holding the secret itself)."""

    path: str
    line: int
    what: str
    excerpt: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what}: {self.excerpt}"


def _files(paths: Iterable[Path]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            for directory, subdirectories, names in os.walk(path):
                subdirectories[:] = sorted(name for name in subdirectories if name not in SKIPPED_DIRS)
                for name in sorted(names):
                    yield Path(directory) / name
        else:
            yield path


def _decoded_payloads(data: bytes) -> Iterator[tuple[str, bytes]]:
    """The payload of a binary body and, when it is compressed, its decompressed form."""
    yield "", data
    for coding in ("gzip", "deflate", "br"):
        try:
            yield f" (inside a {coding}-compressed body)", decode_content(data, coding)
        except ValueError:
            continue


def _binary_nodes(text: str) -> Iterator[tuple[int, bytes]]:
    """(line, bytes) of every ``!!binary`` scalar and every ``base64:`` value in a YAML document."""
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError:
        return
    stack: list[tuple[yaml.Node, str | None]] = [(root, None)] if root is not None else []
    while stack:
        node, key = stack.pop()
        if isinstance(node, yaml.MappingNode):
            stack.extend(
                (value, name.value if isinstance(name, yaml.ScalarNode) else None)
                for name, value in node.value
            )
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((item, None) for item in node.value)
        elif isinstance(node, yaml.ScalarNode) and (node.tag in _BINARY_TAGS or key in _BASE64_KEYS):
            try:
                data = base64.b64decode("".join(node.value.split()), validate=True)
            except (binascii.Error, ValueError):
                continue
            yield node.start_mark.line + 1, data


def _scan_text(text: str, secrets: list[tuple[str, str]], rules: Rules, *, yaml_file: bool) -> list[Leak]:
    leaks = find_leaks(text, secrets, rules)
    if yaml_file:
        for line, data in _binary_nodes(text):
            for how, payload in _decoded_payloads(data):
                for leak in find_leaks(payload.decode("utf-8", "replace"), secrets, rules):
                    leaks.append(Leak(line, f"{leak.what}{how or ' (inside a binary body)'}", leak.excerpt))
    return sorted(set(leaks), key=lambda leak: (leak.line, leak.what, leak.excerpt))


def scan_paths(
    paths: Iterable[Path], rules: Rules, *, shown_from: Path | None = None
) -> tuple[list[Finding], int]:
    """Scan files and directories (recursively, skipping VCS and virtual-environment folders and binary files).

    Returns the findings and the number of files scanned. Paths in findings are relative to ``shown_from`` when
    possible. Raises FileNotFoundError for a path that does not exist.
    """
    secrets = rules.secrets()
    findings: list[Finding] = []
    scanned = 0
    for path in paths:
        if not path.exists():
            raise FileNotFoundError(path)
    for file in _files(paths):
        shown = str(file)
        if shown_from is not None:
            with contextlib.suppress(ValueError):
                shown = str(file.resolve().relative_to(shown_from.resolve()))
        # A file the scan cannot read is a finding: "no secrets found" must mean every file was searched.
        try:
            if file.stat().st_size > _MAX_BYTES:
                findings.append(Finding(shown, 0, "not scanned", f"larger than {_MAX_BYTES // 2**20} MiB"))
                continue
            data = file.read_bytes()
        except OSError as error:
            findings.append(Finding(shown, 0, "not scanned", f"cannot be read ({error.strerror or error})"))
            continue
        if b"\0" in data[:8192]:
            continue  # a binary file: not something a cassette or a config is
        scanned += 1
        text = data.decode("utf-8", "replace")
        leaks = _scan_text(text, secrets, rules, yaml_file=file.suffix.lower() in (".yaml", ".yml"))
        findings.extend(Finding(shown, leak.line, leak.what, leak.excerpt) for leak in leaks)
    return findings, scanned
