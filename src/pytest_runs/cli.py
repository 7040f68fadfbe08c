"""The ``pytest-runs`` command.

``pytest-runs scan [PATH ...]`` searches files for secrets (default: the project's cassette directory) and exits 1 when
it finds any. ``pytest-runs import SRC ... [--out DIR] [--force]`` converts vcrpy, Ruby VCR and .NET test-proxy
recordings into cassettes (see :mod:`pytest_runs.importer`); ``pytest-runs show CASSETTE`` prints a cassette's timeline
(:mod:`pytest_runs.timeline`); ``pytest-runs check [PATH ...]`` validates cassettes (:mod:`pytest_runs.check`).
Project settings (``runs_cassette_dir``, ``runs_secret_env``, ``runs_redact``) are read from the pytest
configuration file found from the current directory upwards, as pytest finds it. ``pytest-runs demo`` records the
example suite on the emulator and replays it offline (:mod:`pytest_runs.demo`).
"""

from __future__ import annotations

import argparse
import configparser
import sys
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .check import check_paths
from .errors import CassetteFormatError
from .importer import CassetteImportError, ImportResult, import_file, output_path, source_files, write_result
from .redact import Redactor, Rules, parse_rule_lines
from .scan import scan_paths
from .storage import load_cassette
from .timeline import render_timeline

__all__ = ["ProjectSettings", "main", "project_settings"]

DEFAULT_CASSETTE_DIR = "cassettes"


@dataclass
class ProjectSettings:
    """The pytest-runs ini values of a project, and where they were found."""

    root: Path
    source: Path | None = None
    values: dict[str, list[str]] = field(default_factory=dict)

    def line_list(self, name: str) -> list[str]:
        """An ini value as a list of lines (empty when not set)."""
        return self.values.get(name, [])

    @property
    def cassette_dir(self) -> Path:
        """The project's cassette directory."""
        configured = self.line_list("runs_cassette_dir")
        return self.root / (configured[0] if configured else DEFAULT_CASSETTE_DIR)


def _as_lines(value: object) -> list[str]:
    if isinstance(value, list):
        return [str(item) for item in value]
    return [line for line in str(value).splitlines() if line.strip()]


def _ini_section(path: Path, section: str) -> dict[str, list[str]] | None:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(path, encoding="utf-8")
    except configparser.Error:
        return None
    if not parser.has_section(section):
        return None
    return {key: _as_lines(value) for key, value in parser.items(section)}


def project_settings(start: Path) -> ProjectSettings:
    """Find the pytest configuration file from ``start`` upwards (pytest.ini, .pytest.ini, pyproject.toml,
    tox.ini, setup.cfg) and read its pytest-runs values; without one, ``start`` is the root and defaults apply."""
    for directory in [start, *start.parents]:
        for name in ("pytest.ini", ".pytest.ini"):
            if (directory / name).is_file():
                values = _ini_section(directory / name, "pytest") or {}
                return ProjectSettings(directory, directory / name, values)
        pyproject = directory / "pyproject.toml"
        if pyproject.is_file():
            try:
                data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
            except (tomllib.TOMLDecodeError, UnicodeDecodeError):
                data = {}
            options = data.get("tool", {}).get("pytest", {}).get("ini_options")
            if isinstance(options, dict):
                return ProjectSettings(
                    directory, pyproject, {key: _as_lines(value) for key, value in options.items()}
                )
        for name, section in (("tox.ini", "pytest"), ("setup.cfg", "tool:pytest")):
            if (directory / name).is_file():
                found = _ini_section(directory / name, section)
                if found is not None:
                    return ProjectSettings(directory, directory / name, found)
    return ProjectSettings(start)


def _scan(arguments: argparse.Namespace) -> int:
    settings = project_settings(Path.cwd())
    origin = f"{settings.source.name} runs_redact" if settings.source else "runs_redact"
    try:
        rules = Rules.build(
            [
                *[name for line in settings.line_list("runs_secret_env") for name in line.split()],
                *arguments.secret_env,
            ],
            [
                *parse_rule_lines(settings.line_list("runs_redact"), origin),
                *parse_rule_lines(arguments.rule, "--rule"),
            ],
        )
    except ValueError as error:
        print(f"pytest-runs scan: {error}", file=sys.stderr)
        return 2
    paths = [Path(path) for path in arguments.paths] or [settings.cassette_dir]
    try:
        findings, scanned = scan_paths(paths, rules, shown_from=Path.cwd())
    except FileNotFoundError as error:
        default = "" if arguments.paths else " (the project's cassette directory; pass paths to scan others)"
        print(f"pytest-runs scan: {error.args[0]} does not exist{default}", file=sys.stderr)
        return 2
    for finding in findings:
        print(finding)
    files = len({finding.path for finding in findings})
    if findings:
        print(
            f"pytest-runs scan: {len(findings)} finding(s) in {files} of {scanned} file(s). Remove the secrets "
            "(record the cassettes again once a redaction rule covers them), and revoke any real key that was "
            "committed.",
            file=sys.stderr,
        )
        return 1
    print(f"pytest-runs scan: no secrets found in {scanned} file(s)", file=sys.stderr)
    return 0


def _project_rules(settings: ProjectSettings, secret_env: Sequence[str], rules: Sequence[str]) -> Rules:
    """The project's redaction rules (ini ``runs_secret_env``, ``runs_redact``) plus those given on the command line.

    Raises ValueError naming the rule that is not usable.
    """
    origin = f"{settings.source.name} runs_redact" if settings.source else "runs_redact"
    return Rules.build(
        [*[name for line in settings.line_list("runs_secret_env") for name in line.split()], *secret_env],
        [*parse_rule_lines(settings.line_list("runs_redact"), origin), *parse_rule_lines(rules, "--rule")],
    )


def _shown(path: Path) -> str:
    """A path as the user would type it: relative to the current directory when it is below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _import_one(
    source: Path, redactor: Redactor, out_dir: Path, force: bool, taken: dict[Path, Path]
) -> bool:
    """Import one file and report it; returns whether it succeeded."""
    try:
        result: ImportResult = import_file(source, redactor=redactor)
    except CassetteImportError as error:
        print(str(error), file=sys.stderr)
        return False
    target = output_path(source, out_dir)
    if target in taken:
        # Two sources with the same stem would silently replace each other's output.
        print(
            f"pytest-runs import: cannot import {_shown(source)}: its output {_shown(target)} is already written "
            f"from {_shown(taken[target])} in this run; import one of them separately with another --out",
            file=sys.stderr,
        )
        return False
    try:
        write_result(result, out_dir, force=force)
    except FileExistsError:
        print(
            f"pytest-runs import: not importing {_shown(source)}: {_shown(target)} already exists "
            "(pass --force to replace it)",
            file=sys.stderr,
        )
        return False
    except OSError as error:
        print(
            f"pytest-runs import: cannot write {_shown(target)}: {error.strerror or error}", file=sys.stderr
        )
        return False
    taken[target] = source
    print(f"{_shown(source)} -> {_shown(target)}: {result.summary()} ({result.source_format})")
    for note in result.notes:
        print(f"  note: {note}")
    return True


def _import(arguments: argparse.Namespace) -> int:
    settings = project_settings(Path.cwd())
    try:
        rules = _project_rules(settings, arguments.secret_env, arguments.rule)
    except ValueError as error:
        print(f"pytest-runs import: {error}", file=sys.stderr)
        return 2
    out_dir = Path(arguments.out) if arguments.out else settings.cassette_dir
    if out_dir.exists() and not out_dir.is_dir():
        print(f"pytest-runs import: --out {_shown(out_dir)} is not a directory", file=sys.stderr)
        return 2
    sources = list(source_files(Path(path) for path in arguments.sources))
    if not sources:
        print(
            "pytest-runs import: no .yaml, .yml or .json files in " + ", ".join(arguments.sources),
            file=sys.stderr,
        )
        return 2
    redactor = Redactor(rules)
    taken: dict[Path, Path] = {}
    failed = sum(not _import_one(source, redactor, out_dir, arguments.force, taken) for source in sources)
    print(
        f"pytest-runs import: {len(sources) - failed} of {len(sources)} file(s) imported into {_shown(out_dir)}"
        + (f", {failed} failed" if failed else ""),
        file=sys.stderr,
    )
    return 1 if failed else 0


def _recording_kind(path: Path) -> str | None:
    """The format of a recording that import reads (vcrpy, Ruby VCR, .NET test-proxy), or None."""
    import json

    import yaml

    from .importer import detect_format

    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError):
        return None
    return detect_format(data)


def _show(arguments: argparse.Namespace) -> int:
    status = 0
    for number, name in enumerate(arguments.cassettes):
        path = Path(name)
        if not path.is_file():
            print(f"pytest-runs show: {name} does not exist or is not a file", file=sys.stderr)
            status = 1
            continue
        try:
            cassette = load_cassette(path)
        except CassetteFormatError as error:
            kind = _recording_kind(path)
            if kind is not None:
                # Not damaged: a recording of another tool, which import converts.
                print(
                    f"pytest-runs show: {name} is a {kind} recording, not a pytest-runs cassette; convert it with:\n"
                    f"  pytest-runs import {name}",
                    file=sys.stderr,
                )
            else:
                print(str(error), file=sys.stderr)
            status = 1
            continue
        print(("\n" if number else "") + render_timeline(cassette, name), end="")
    return status


def _check(arguments: argparse.Namespace) -> int:
    settings = project_settings(Path.cwd())
    try:
        rules = _project_rules(settings, arguments.secret_env, arguments.rule)
    except ValueError as error:
        print(f"pytest-runs check: {error}", file=sys.stderr)
        return 2
    paths = [Path(path) for path in arguments.paths] or [settings.cassette_dir]
    try:
        report = check_paths(paths, rules, shown_from=Path.cwd())
    except FileNotFoundError as error:
        default = "" if arguments.paths else " (the project's cassette directory; pass paths to check others)"
        print(f"pytest-runs check: {_shown(Path(error.args[0]))} does not exist{default}", file=sys.stderr)
        return 2
    for problem in report.problems:
        print(problem)
    print(report.summary(), file=sys.stderr if report.problems else sys.stdout)
    return 1 if report.problems else 0


def _add_rule_options(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--secret-env",
        action="append",
        default=[],
        metavar="NAME",
        help=f"also {what} the value of this environment variable (besides OPENAI_API_KEY, ... and ini "
        "runs_secret_env); repeatable",
    )
    parser.add_argument(
        "--rule",
        action="append",
        default=[],
        metavar="RULE",
        help=f"also {what} this literal, or re:PATTERN (besides ini runs_redact); repeatable",
    )


def _add_commands(commands: Any) -> None:
    """The subcommands that work on whole cassettes: import, show, check."""
    importer = commands.add_parser(
        "import",
        help="convert vcrpy, Ruby VCR and .NET test-proxy recordings into pytest-runs cassettes",
        description="Convert recordings made with vcrpy/pytest-recording (YAML or JSON), Ruby VCR or the .NET "
        "test-proxy into pytest-runs cassettes: bodies decoded and parsed (JSON, SSE events), secrets redacted, IDs "
        "and timestamps normalised. Each SRC file becomes OUT/<same name>.yaml. Exit status: 0 all imported, 1 any "
        "file failed or would be overwritten, 2 usage error.",
    )
    importer.add_argument(
        "sources", nargs="+", metavar="SRC", help="recording files, or directories of .yaml/.yml/.json files"
    )
    importer.add_argument(
        "--out",
        metavar="DIR",
        help="where to write the cassettes (default: the project's cassette directory)",
    )
    importer.add_argument("--force", action="store_true", help="replace cassettes that already exist")
    _add_rule_options(importer, "redact")
    importer.set_defaults(run=_import)

    show = commands.add_parser(
        "show",
        help="print a cassette as a readable timeline",
        description="Print each request (method, path, key parameters) and its response (status, run status, stream "
        "events by type, message text), repeated polls collapsed, and the final status and usage of every run.",
    )
    show.add_argument("cassettes", nargs="+", metavar="CASSETTE", help="pytest-runs cassette files")
    show.set_defaults(run=_show)

    check = commands.add_parser(
        "check",
        help="validate cassettes (format, schema, stream events, secrets); exit 1 on any problem",
        description="Validate cassettes: format version and schema, stream events whose JSON data must parse, and "
        "the secret scan. Every problem is printed as FILE: LINE (FIELD): PROBLEM. Exit status: 0 all fine, 1 "
        "problems found, 2 usage error.",
    )
    check.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="cassette files or directories (default: the cassette directory)",
    )
    _add_rule_options(check, "treat as a secret")
    check.set_defaults(run=_check)

    demo = commands.add_parser(
        "demo",
        help="record the example suite on the embedded emulator, replay it offline, show what was recorded",
        description="The main job in one command: copy examples/ to a temporary project, record it against a freshly "
        "started emulator (record mode once, snapshots updated), replay it with the emulator stopped, no API key and "
        "the network blocked, then print every cassette's timeline and the snapshots. Exit status: 0 when both runs "
        "pass.",
    )
    demo.add_argument(
        "--keep",
        metavar="DIR",
        help="leave the project (tests, cassettes, snapshots) in DIR, which must be empty",
    )
    demo.set_defaults(run=_demo)


def _demo(arguments: argparse.Namespace) -> int:
    from .demo import run_demo

    return run_demo(keep=Path(arguments.keep) if arguments.keep else None)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pytest-runs", description="pytest-runs: record and replay Assistants runs (companion commands)."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    scan = commands.add_parser(
        "scan",
        help="find secrets in cassettes and other files; exit 1 if any",
        description="Search files for secret values and key-shaped strings (decoding binary and gzip bodies of "
        "YAML cassettes). Exit status: 0 clean, 1 secrets found, 2 usage error.",
    )
    scan.add_argument(
        "paths", nargs="*", metavar="PATH", help="files or directories (default: the cassette directory)"
    )
    scan.add_argument(
        "--secret-env",
        action="append",
        default=[],
        metavar="NAME",
        help="also search for the value of this environment variable (besides OPENAI_API_KEY, ... and ini "
        "runs_secret_env); repeatable",
    )
    scan.add_argument(
        "--rule",
        action="append",
        default=[],
        metavar="RULE",
        help="also search for this literal, or re:PATTERN (besides ini runs_redact); repeatable",
    )
    scan.set_defaults(run=_scan)
    _add_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``pytest-runs`` command; returns the exit status."""
    arguments = _parser().parse_args(argv)
    status: int = arguments.run(arguments)
    return status


if __name__ == "__main__":
    raise SystemExit(main())
