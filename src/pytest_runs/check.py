"""``pytest-runs check``: validate cassettes before they are committed or while CI runs.

A cassette passes when it loads (a known format version and a valid schema: :func:`~pytest_runs.storage.load_cassette`
names the line and the field otherwise), when every stream event whose data looks like JSON parses as JSON and no
completed stream ends inside an event, and when the leak scan (:func:`~pytest_runs.scan.scan_paths`) finds no secret
in it. Every problem is reported with the file, the line and field, and what is wrong.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .cassette import CassetteFile, SSEBody
from .errors import CassetteFormatError
from .importer import detect_format
from .redact import Rules
from .scan import scan_paths
from .storage import field_at_line, format_loc, line_of, load_cassette
from .views import runs_of

__all__ = ["CASSETTE_SUFFIXES", "CheckReport", "Problem", "cassette_files", "check_file", "check_paths"]

CASSETTE_SUFFIXES = (".yaml", ".yml")
"""The file name endings checked when a directory is given."""

_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a cassette: the file, where in it, and what."""

    path: str
    where: str
    problem: str

    def __str__(self) -> str:
        return f"{self.path}: {self.where}: {self.problem}"


@dataclass
class CheckReport:
    """What a check found over all the files it looked at."""

    files: int = 0
    interactions: int = 0
    streams: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def failed_files(self) -> int:
        """How many files have at least one problem."""
        return len({problem.path for problem in self.problems})

    def summary(self) -> str:
        """One line: what was checked and the verdict."""
        if self.problems:
            return (
                f"pytest-runs check: {len(self.problems)} problem(s) in {self.failed_files} of {self.files} "
                "cassette(s)"
            )
        return (
            f"pytest-runs check: {self.files} cassette(s) OK ({self.interactions} interaction(s), "
            f"{self.streams} stream(s))"
        )


def cassette_files(paths: Iterable[Path]) -> Iterator[Path]:
    """Files as given, and every ``.yaml``/``.yml`` file under directories (hidden folders skipped), sorted."""
    for path in paths:
        if not path.is_dir():
            yield path
            continue
        for directory, subdirectories, names in os.walk(path):
            subdirectories[:] = sorted(name for name in subdirectories if not name.startswith("."))
            for name in sorted(names):
                if name.lower().endswith(CASSETTE_SUFFIXES):
                    yield Path(directory) / name


def _format_problem(path: str, error: CassetteFormatError, text: str | None) -> Problem:
    """A load error as a problem; its second line is ``WHERE: WHAT`` (see :func:`~pytest_runs.storage.parse_cassette`)."""
    lines = str(error).splitlines()
    where, _, what = (lines[1].strip() if len(lines) > 1 else "").partition(": ")
    if not what:
        where, what = "file", str(error)
    if text is not None:
        with contextlib.suppress(yaml.YAMLError):
            found = detect_format(yaml.load(text, Loader=_Loader))
            if found is not None:
                what += f" (this is a {found} recording: convert it with `pytest-runs import {path}`)"
    return Problem(path, where, what)


def _json_problem(data: Any) -> str | None:
    """Why event data that looks like JSON does not parse (None when it parses or does not look like JSON)."""
    if not isinstance(data, str) or data[:1] not in ("{", "[") or data == "[DONE]":
        return None
    try:
        json.loads(data)
    except ValueError as error:
        return f"data looks like JSON but does not parse ({error})"
    return None


def _stream_problems(cassette: CassetteFile, text: str, path: str) -> list[Problem]:
    """Events whose JSON data does not parse, and completed streams that end inside an event."""
    found: list[tuple[list[int | str], str]] = []
    for index, interaction in enumerate(cassette.interactions):
        body = interaction.response.body
        if not isinstance(body, SSEBody):
            continue
        base: list[int | str] = ["interactions", index, "response", "body"]
        for number, event in enumerate(body.sse):
            problem = _json_problem(event.data)
            if problem:
                found.append(
                    ([*base, "sse", number, "data"], f"event {event.event or 'message'!r}: {problem}")
                )
        if body.tail and interaction.response.end == "complete":
            found.append(([*base, "tail"], "the stream ends inside an event (no blank line after it)"))
    places = [(line_of(text, loc), format_loc(loc)) for loc, _ in found]
    return [
        Problem(path, f"line {line} ({dotted})" if line else dotted, problem)
        for (line, dotted), (_, problem) in zip(places, found, strict=True)
    ]


def check_file(
    path: Path, rules: Rules, *, shown: str | None = None
) -> tuple[list[Problem], CassetteFile | None]:
    """The problems of one cassette file, and the cassette when it loads."""
    name = shown or str(path)
    try:
        text: str | None = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        text = None
    except OSError as error:
        return [Problem(name, "file", f"cannot be read ({error.strerror or error})")], None
    cassette: CassetteFile | None = None
    try:
        cassette = load_cassette(path, shown_as=name)
    except CassetteFormatError as error:
        problems = [_format_problem(name, error, text)]
    else:
        problems = _stream_problems(cassette, text or "", name)
        try:
            runs_of(cassette.interactions)  # what runs_cassette.runs would raise on at test time
        except CassetteFormatError as error:
            problems.append(Problem(name, "runs", str(error)))
    findings, _ = scan_paths([path], rules)
    for finding in findings:
        place = f"line {finding.line}"
        if text is not None:
            place += f" ({field_at_line(text, finding.line)})"
        problems.append(Problem(name, place, f"{finding.what}: {finding.excerpt}"))
    return problems, cassette


def check_paths(paths: Iterable[Path], rules: Rules, *, shown_from: Path | None = None) -> CheckReport:
    """Check every cassette under ``paths``. Raises FileNotFoundError for a path that does not exist."""
    paths = list(paths)
    for path in paths:
        if not path.exists():
            raise FileNotFoundError(path)
    report = CheckReport()
    for file in cassette_files(paths):
        shown = str(file)
        if shown_from is not None:
            with contextlib.suppress(ValueError):
                shown = str(file.resolve().relative_to(shown_from.resolve()))
        problems, cassette = check_file(file, rules, shown=shown)
        report.files += 1
        report.problems.extend(problems)
        if cassette is not None:
            report.interactions += len(cassette.interactions)
            report.streams += sum(isinstance(item.response.body, SSEBody) for item in cassette.interactions)
    return report
