"""A bounded load generator: ``python -m tests.reliability.load URL --first 0 --count 300``.

Sends ``count`` GET requests to ``URL?n=<i>`` (``i`` from ``first``), each tagged so its
``$pageview`` can be found at the inbox, from ``threads`` threads, paced at ``rate``
requests a second in total (0: as fast as they go). Writes one JSON list of
``[n, status, seconds]`` (status 0 when no answer came) to ``--out`` and exits 0.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from collections.abc import Sequence

import requests

BROWSER_HEADERS = {
    "User-Agent": (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.5 Safari/605.1.15"
    ),
    "Accept": "text/html,application/xhtml+xml",
}


def run(url: str, first: int, count: int, threads: int, rate: float) -> list[list[float]]:
    results: list[list[float]] = []
    lock = threading.Lock()
    start = time.monotonic() + 0.05

    def worker(offset: int) -> None:
        session = requests.Session()
        for i in range(offset, count, threads):
            if rate:
                delay = start + i / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            n = first + i
            began = time.perf_counter()
            try:
                response = session.get(url, params={"n": n}, headers=BROWSER_HEADERS, timeout=10)
                status = response.status_code
            except requests.RequestException:
                status = 0
                session.close()
                session = requests.Session()
            elapsed = time.perf_counter() - began
            with lock:
                results.append([n, status, elapsed])
        session.close()

    pool = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    results.sort()
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="bounded HTTP load for the reliability tests")
    parser.add_argument("url")
    parser.add_argument("--first", type=int, default=0)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--rate", type=float, default=0.0, help="requests a second (0: max)")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    results = run(args.url, args.first, args.count, args.threads, args.rate)
    with open(args.out, "w", encoding="utf-8") as fh:
        json.dump(results, fh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
