"""The ``posthog-web`` command: ``posthog-web inbox [...]`` runs the local inbox."""

from __future__ import annotations

import sys
from collections.abc import Sequence

USAGE = """usage: posthog-web COMMAND [ARGS]

commands:
  inbox     run the local PostHog-compatible inbox (posthog-web inbox --help)
  version   print the version
"""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``posthog-web`` command line; returns the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(USAGE, end="")
        return 0
    command, rest = args[0], args[1:]
    if command == "inbox":
        from posthog_web.inbox.__main__ import main as inbox_main

        return inbox_main(rest)
    if command == "version":
        from posthog_web import __version__

        print(__version__)
        return 0
    print(f"posthog-web: unknown command {command!r}\n\n{USAGE}", end="", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
