"""The package's local inbox in its own process, so its CPU is not counted as the client's.

``python -m bench.inbox_process`` prints the inbox URL, then answers one line per
command read from stdin: ``count`` (events stored), ``clear``, ``quit``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import TracebackType

from posthog_web.inbox import InboxServer

_TIMEOUT = 60.0
ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    with InboxServer(host="127.0.0.1", port=0) as server:
        print(server.url, flush=True)
        for line in sys.stdin:
            command = line.strip()
            if command == "count":
                print(len(server.events()), flush=True)
            elif command == "clear":
                server.clear()
                print("ok", flush=True)
            elif command == "quit":
                break
            else:
                print(f"unknown command {command!r}", flush=True)
    return 0


class InboxProcess:
    """Start ``python -m bench.inbox_process`` and talk to it (a context manager)."""

    def __init__(self) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "bench.inbox_process"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        assert self._proc.stdout is not None
        self.url = self._proc.stdout.readline().strip()
        if not self.url.startswith("http://"):
            self.close()
            raise RuntimeError(f"the inbox process did not start (said {self.url!r})")

    def _ask(self, command: str) -> str:
        assert self._proc.stdin is not None
        assert self._proc.stdout is not None
        self._proc.stdin.write(command + "\n")
        self._proc.stdin.flush()
        return self._proc.stdout.readline().strip()

    def count(self) -> int:
        """How many events the inbox stored."""
        return int(self._ask("count"))

    def clear(self) -> None:
        """Forget the stored events."""
        self._ask("clear")

    def close(self) -> None:
        """Stop the process (bounded: killed if it does not exit)."""
        if self._proc.poll() is None:
            try:
                assert self._proc.stdin is not None
                self._proc.stdin.write("quit\n")
                self._proc.stdin.close()
            except (OSError, ValueError):
                pass
            try:
                self._proc.wait(_TIMEOUT)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(_TIMEOUT)
        if self._proc.stdout is not None:
            self._proc.stdout.close()

    def __enter__(self) -> InboxProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


if __name__ == "__main__":
    raise SystemExit(main())
