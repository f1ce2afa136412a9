"""``python -m posthog_web.inbox``: run the local PostHog-compatible inbox until SIGINT/SIGTERM.

The first stdout line is the URL the inbox listens on (useful with ``--port 0``).
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import signal
import sqlite3
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from posthog_web.inbox.flags import DEFAULT_SECRET_KEY
from posthog_web.inbox.server import InboxServer

DEFAULT_PORT = 8010
DEFAULT_DB = "posthog-inbox.db"


def build_parser() -> argparse.ArgumentParser:
    """The command-line options."""
    parser = argparse.ArgumentParser(
        prog="posthog-web inbox",
        description="A local PostHog-compatible capture server that shows what it receives.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (loopback)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="port; 0 picks a free one")
    parser.add_argument("--db", default=DEFAULT_DB, help="SQLite file, or :memory:")
    parser.add_argument(
        "--allow-remote", action="store_true", help="allow binding a non-loopback host"
    )
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    flags = parser.add_argument_group("feature flags")
    flags.add_argument(
        "--flags", metavar="FILE", help="a flags file to serve (reloaded when it changes)"
    )
    flags.add_argument(
        "--flags-secret-key",
        default=DEFAULT_SECRET_KEY,
        help=f"the Bearer key of the definitions endpoint (default {DEFAULT_SECRET_KEY})",
    )
    faults = parser.add_argument_group("fault injection (capture requests only)")
    faults.add_argument("--fail-status", type=int, default=503, help="status of failures")
    faults.add_argument("--fail-fraction", type=float, help="fail this fraction of requests")
    faults.add_argument("--drop-fraction", type=float, help="drop this fraction of connections")
    faults.add_argument("--fail-window-start", type=float, default=0.0, help="seconds from start")
    faults.add_argument("--fail-window-seconds", type=float, help="fail everything this long")
    faults.add_argument("--delay", type=float, help="seconds of latency on every request")
    faults.add_argument("--seed", type=int, default=0, help="seed of the fractions")
    return parser


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _arm_faults(server: InboxServer, args: argparse.Namespace) -> None:
    faults = server.faults
    if args.fail_fraction is not None:
        faults.fail_fraction(args.fail_fraction, status=args.fail_status, seed=args.seed)
    if args.drop_fraction is not None:
        faults.drop_fraction(args.drop_fraction, seed=args.seed)
    if args.fail_window_seconds is not None:
        faults.fail_window(
            args.fail_window_seconds, status=args.fail_status, start=args.fail_window_start
        )
    if args.delay is not None:
        faults.delay(args.delay)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the inbox; return the process exit code (0 after SIGINT/SIGTERM)."""
    args = build_parser().parse_args(argv)
    if not args.allow_remote and not _is_loopback(args.host):
        print(
            f"refusing to bind {args.host!r}: not a loopback address (pass --allow-remote)",
            file=sys.stderr,
        )
        return 2
    if args.verbose:
        logging.basicConfig(level=logging.DEBUG, format="%(asctime)s %(name)s %(message)s")
    stop = threading.Event()
    # Handlers go in before the socket is bound, so a signal is never missed.
    previous = _install_signal_handlers(stop)
    server: InboxServer | None = None
    try:
        try:
            server = InboxServer(
                args.host,
                args.port,
                None if args.db == ":memory:" else args.db,
                flags=args.flags,
                flags_secret_key=args.flags_secret_key,
            )
            _arm_faults(server, args)
            server.start()
        except (ValueError, OSError, sqlite3.Error) as exc:
            print(f"posthog-web inbox: {exc}", file=sys.stderr)
            return 2
        print(server.url, flush=True)
        print(
            f"posthog-web inbox: events at {server.url}/ ; set the PostHog host to it: "
            f"POSTHOG_HOST={server.url} (Client(host=...), POSTHOG_WEB['HOST'], "
            "posthog-js api_host)",
            flush=True,
        )
        if args.flags:
            key = "the --flags-secret-key"
            if args.flags_secret_key == DEFAULT_SECRET_KEY:
                key = DEFAULT_SECRET_KEY  # the documented default, not a secret
            count = len(server.flags.current()[2].flags)
            print(
                f"posthog-web inbox: {count} feature flags from {args.flags} (reloaded when "
                f"it changes); local evaluation: flags_secret_key={key}",
                flush=True,
            )
        stop.wait()
    finally:
        if server is not None:
            server.stop()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 0


def _install_signal_handlers(stop: threading.Event) -> dict[int, signal._HANDLER]:
    if threading.current_thread() is not threading.main_thread():
        return {}

    def handle(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous: dict[int, signal._HANDLER] = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        previous[signum] = signal.signal(signum, handle)
    return previous


if __name__ == "__main__":
    sys.exit(main())
