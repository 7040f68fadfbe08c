"""Command line: ``python -m pytest_runs.emulator --port N`` serves the emulator until Ctrl-C."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType

from . import Emulator

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``python -m pytest_runs.emulator`` command."""
    parser = argparse.ArgumentParser(
        prog="python -m pytest_runs.emulator",
        description="Serve the pytest-runs Assistants emulator on a loopback port until interrupted.",
    )
    parser.add_argument(
        "--port", type=int, default=0, help="port to listen on (0 picks a free one; default 0)"
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--seed", default=None, help="make identifiers and timestamps reproducible")
    parser.add_argument(
        "--event-delay", type=float, default=0.005, metavar="SECONDS", help="pause between streamed events"
    )
    parser.add_argument(
        "--poll-after-ms", type=int, default=1000, metavar="MS", help="openai-poll-after-ms header value"
    )
    parser.add_argument("--api-key", default=None, help="accept only this bearer token (default: any)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the emulator until SIGINT/SIGTERM; return the exit status."""
    args = build_parser().parse_args(argv)
    emulator = Emulator(
        args.host,
        args.port,
        seed=args.seed,
        event_delay=args.event_delay,
        poll_after_ms=args.poll_after_ms,
        api_key=args.api_key,
    )
    try:
        emulator.start()
    except OSError as exc:
        print(f"pytest-runs emulator: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    stopped = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stopped.set()

    # Ctrl-C and a plain ``kill`` both end the process cleanly (exit status 0). Signal handlers can only be
    # installed from the main thread; elsewhere the caller stops the thread its own way.
    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        print(f"pytest-runs emulator listening on {emulator.base_url}", flush=True)
        while not stopped.wait(0.5):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
