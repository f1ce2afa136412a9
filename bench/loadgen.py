"""A small closed-loop HTTP load generator, used when wrk is not installed.

``connections`` threads each keep one HTTP/1.1 connection (reopened when the server
closes it) and send GET requests back to back until ``duration`` seconds pass.
"""

from __future__ import annotations

import http.client
import threading
import time
from typing import Any


def run(
    host: str, port: int, path: str, headers: dict[str, str], *, connections: int, duration: float
) -> dict[str, Any]:
    """Requests per second and latency percentiles (ms) of the whole run."""
    deadline = time.perf_counter() + duration
    latencies: list[list[float]] = [[] for _ in range(connections)]
    errors = [0] * connections

    def worker(index: int) -> None:
        conn: http.client.HTTPConnection | None = None
        mine = latencies[index]
        while time.perf_counter() < deadline:
            if conn is None:
                conn = http.client.HTTPConnection(host, port, timeout=10)
            start = time.perf_counter()
            try:
                conn.request("GET", path, headers=headers)
                response = conn.getresponse()
                response.read()
                if response.status >= 400:
                    errors[index] += 1
                if response.getheader("connection", "").lower() == "close" or response.will_close:
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException):
                errors[index] += 1
                if conn is not None:
                    conn.close()
                conn = None
                continue
            mine.append(time.perf_counter() - start)
        if conn is not None:
            conn.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(connections)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(duration + 30)
    elapsed = time.perf_counter() - started
    merged = sorted(x for part in latencies for x in part)
    if not merged:
        return {"rps": 0.0, "p50_ms": float("nan"), "p99_ms": float("nan"), "errors": sum(errors)}
    return {
        "rps": len(merged) / elapsed,
        "p50_ms": merged[len(merged) // 2] * 1000,
        "p99_ms": merged[min(len(merged) - 1, int(len(merged) * 0.99))] * 1000,
        "errors": sum(errors),
    }
