"""Measure the two spool designs the reliability issue names: SQLite in WAL mode, and files.

    .venv/bin/python bench/spool_bench.py [--batches 200] [--events 100]

"files" is the real :class:`posthog_web.delivery.spool.Spool` (one file per batch, ``flock``
claims); "files+fsync" is the same write with ``fsync`` of the file and directory (what
surviving a power cut would cost); "sqlite-wal" is a prototype with the same interface
(one table, ``BEGIN IMMEDIATE`` transactions, claims as leases). Prints a Markdown table
for docs/reliability.md. Bounded: about a minute on a 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from posthog_web import events as ev
from posthog_web.delivery.offline import SPOOL_SCAN_INTERVAL
from posthog_web.delivery.spool import Spool, decode_batch, encode_batch

MAX_BYTES = 1 << 30
LEASE_SECONDS = 60.0


class Claimed(Protocol):
    events: list[bytes]

    def done(self) -> None: ...
    def release(self) -> None: ...


class Backend(Protocol):
    def write(self, events: Sequence[bytes]) -> object: ...
    def claim(self) -> Claimed | None: ...
    def count(self) -> int: ...


# The SQLite prototype ----------------------------------------------------------------


class SQLiteClaim:
    def __init__(self, spool: SQLiteSpool, row_id: int, events: list[bytes]) -> None:
        self.spool, self.row_id, self.events = spool, row_id, events

    def done(self) -> None:
        self.spool.conn.execute("DELETE FROM batches WHERE id = ?", (self.row_id,))

    def release(self) -> None:
        self.spool.conn.execute("UPDATE batches SET claimed_until = 0 WHERE id = ?", (self.row_id,))


class SQLiteSpool:
    """One table of batches; a claim is a lease (a dead claimer's batch waits it out)."""

    def __init__(self, path: str, max_bytes: int = MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self.conn = sqlite3.connect(path, timeout=30, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS batches (id INTEGER PRIMARY KEY AUTOINCREMENT,"
            " count INTEGER NOT NULL, size INTEGER NOT NULL,"
            " claimed_until REAL NOT NULL DEFAULT 0, body BLOB NOT NULL)"
        )

    def write(self, events: Sequence[bytes]) -> None:
        body = encode_batch(events)
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            (total,) = conn.execute("SELECT COALESCE(SUM(size), 0) FROM batches").fetchone()
            while total + len(body) > self.max_bytes:
                row = conn.execute(
                    "SELECT id, size FROM batches WHERE claimed_until < ? ORDER BY id LIMIT 1",
                    (time.time(),),
                ).fetchone()
                if row is None:
                    break
                conn.execute("DELETE FROM batches WHERE id = ?", (row[0],))
                total -= row[1]
            conn.execute(
                "INSERT INTO batches (count, size, body) VALUES (?, ?, ?)",
                (len(events), len(body), body),
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def claim(self) -> SQLiteClaim | None:
        conn = self.conn
        now = time.time()
        conn.execute("BEGIN IMMEDIATE")
        try:
            row = conn.execute(
                "SELECT id, body FROM batches WHERE claimed_until < ? ORDER BY id LIMIT 1",
                (now,),
            ).fetchone()
            if row is not None:
                conn.execute(
                    "UPDATE batches SET claimed_until = ? WHERE id = ?",
                    (now + LEASE_SECONDS, row[0]),
                )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        if row is None:
            return None
        return SQLiteClaim(self, row[0], decode_batch(row[1]))

    def count(self) -> int:
        return int(self.conn.execute("SELECT COUNT(*) FROM batches").fetchone()[0])


# The files backend, and its fsync variant ----------------------------------------------


class FileSpool:
    def __init__(self, path: str, max_bytes: int = MAX_BYTES, fsync: bool = False) -> None:
        self.spool = Spool(path, max_bytes)
        self.spool.open()
        self.fsync = fsync

    def write(self, events: Sequence[bytes]) -> None:
        if not self.fsync:
            self.spool.write(events)
            return
        data = encode_batch(events)
        self.spool._make_room(len(data))  # the same bound check as the real write
        tmp = os.path.join(self.spool.path, f".tmp-{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        name = f"{time.time_ns():020d}-{os.getpid()}-0-000000-{len(events)}-{len(data)}.batch"
        os.rename(tmp, os.path.join(self.spool.path, name))
        dir_fd = os.open(self.spool.path, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def claim(self) -> Claimed | None:
        return self.spool.claim()

    def count(self) -> int:
        return len(self.spool.batches())


def make_backend(kind: str, where: str) -> Backend:
    if kind == "sqlite-wal":
        return SQLiteSpool(os.path.join(where, "spool.sqlite3"))
    return FileSpool(os.path.join(where, "spool"), fsync=kind == "files+fsync")


# Workloads ---------------------------------------------------------------------------


def pageview(i: int, tag: int = 0) -> bytes:
    """A page view shaped like the ones the integrations send (about 1 KB)."""
    props: dict[str, Any] = {
        "$current_url": f"https://shop.example.com/products/{i % 50}?n={i}",
        "$host": "shop.example.com",
        "$pathname": f"/products/{i % 50}",
        "$raw_user_agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.5 Safari/605.1.15",
        "$browser": "Safari",
        "$os": "Mac OS X",
        "$device_type": "Desktop",
        "$referrer": "https://www.google.com/",
        "$referring_domain": "www.google.com",
        "$session_id": ev.uuid7(),
        "$pageview_id": ev.uuid7(),
        "$ip": "203.0.113.7",
        "title": "Product page",
        "bench_tag": tag,
        "bench_i": i,
    }
    return ev.encode_json(ev.new_event("$pageview", ev.uuid7(), props))


def batch(events: int, tag: int = 0) -> list[bytes]:
    return [pageview(i, tag) for i in range(events)]


def timed(action: Callable[[], object], repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def summary(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return f"{statistics.median(ordered):.3f} / {p95:.3f}"


def single_process(kind: str, batches: int, events: int) -> dict[str, str]:
    payload = batch(events)
    with tempfile.TemporaryDirectory() as where:
        backend = make_backend(kind, where)
        write_empty = timed(lambda: backend.write(payload), batches)
        for _ in range(1000 - batches):
            backend.write(payload)
        write_full = timed(lambda: backend.write(payload), batches)

        def resend() -> None:
            claimed = backend.claim()
            assert claimed is not None
            assert len(claimed.events) == events
            claimed.done()

        resend_cost = timed(resend, batches)
        start = time.perf_counter()
        reopened = make_backend(kind, where)
        reopened.count()
        open_ms = (time.perf_counter() - start) * 1000
        return {
            "write": summary(write_empty),
            "write_1000": summary(write_full),
            "resend": summary(resend_cost),
            "open_1000": f"{open_ms:.2f}",
        }


def _drainer(kind: str, where: str, out: Any) -> None:
    backend = make_backend(kind, where)
    seen = []
    idle_since = None
    while True:
        claimed = backend.claim()
        if claimed is None:
            # Writers may still be adding batches: stop after a quiet half second.
            idle_since = idle_since or time.monotonic()
            if time.monotonic() - idle_since > 0.5:
                break
            time.sleep(0.005)
            continue
        idle_since = None
        seen.append(json.loads(claimed.events[0])["properties"]["bench_tag"])
        claimed.done()
    out.put(seen)


def _writer(kind: str, where: str, first: int, count: int) -> None:
    backend = make_backend(kind, where)
    for tag in range(first, first + count):
        backend.write(batch(5, tag))


def multi_process(kind: str, batches: int) -> dict[str, str]:
    """4 processes drain a shared spool while 2 others keep writing to it."""
    ctx = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory() as where:
        backend = make_backend(kind, where)
        for tag in range(batches):
            backend.write(batch(5, tag))
        del backend
        out = ctx.Queue()
        extra = batches // 4
        writers = [
            ctx.Process(target=_writer, args=(kind, where, batches + k * extra, extra))
            for k in range(2)
        ]
        drainers = [ctx.Process(target=_drainer, args=(kind, where, out)) for _ in range(4)]
        start = time.perf_counter()
        for process in writers + drainers:
            process.start()
        seen: list[int] = []
        for _ in drainers:
            seen += out.get(timeout=120)
        for process in writers + drainers:
            process.join(timeout=60)
        elapsed = time.perf_counter() - start
        expected = set(range(batches + 2 * extra))
        left = make_backend(kind, where).count()
        return {
            "mp_duplicates": str(len(seen) - len(set(seen))),
            "mp_missing": str(len(expected - set(seen)) - left),
            "mp_seconds": f"{elapsed:.2f}",
        }


def _crash_holding_claim(kind: str, where: str) -> None:
    backend = make_backend(kind, where)
    assert backend.claim() is not None
    os._exit(0)  # like SIGKILL: no release, no cleanup


def crash_recovery(kind: str) -> str:
    """A process dies holding a claim: can another take the batch at once?"""
    ctx = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory() as where:
        make_backend(kind, where).write(batch(5))
        process = ctx.Process(target=_crash_holding_claim, args=(kind, where))
        process.start()
        process.join(timeout=60)
        claimed = make_backend(kind, where).claim()
        return "at once" if claimed is not None else f"after the {LEASE_SECONDS:.0f} s lease"


def damage(kind: str) -> str:
    """Overwrite part of the storage with garbage: how many of 10 batches survive?"""
    with tempfile.TemporaryDirectory() as where:
        backend = make_backend(kind, where)
        for tag in range(10):
            backend.write(batch(5, tag))
        if kind == "sqlite-wal":
            assert isinstance(backend, SQLiteSpool)
            backend.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            backend.conn.close()
            target = os.path.join(where, "spool.sqlite3")
            with open(target, "r+b") as fh:
                fh.seek(0)
                fh.write(b"\0" * 512)
        else:
            assert isinstance(backend, FileSpool)
            first = backend.spool.batches()[0].name
            with open(os.path.join(backend.spool.path, first), "r+b") as fh:
                fh.seek(40)
                fh.write(b"garbage")
        survived = 0
        try:
            reopened = make_backend(kind, where)
            while (claimed := reopened.claim()) is not None:
                claimed.done()
                survived += 1
        except sqlite3.DatabaseError as exc:
            return f"0 of 10 ({exc})"
        return f"{survived} of 10"


def healthy_path() -> str:
    """What the spool costs while PostHog answers: opening it, and looking for work."""
    with tempfile.TemporaryDirectory() as where:
        path = os.path.join(where, "spool")
        opens = timed(lambda: Spool(path, MAX_BYTES).open(), 200)
        spool = Spool(path, MAX_BYTES)
        spool.open()
        looks = timed(spool.claim, 2000)
    return (
        f"spool on, PostHog healthy: open at sender start {statistics.median(opens):.3f} ms; "
        f"one look for spooled batches (every {SPOOL_SCAN_INTERVAL:.0f} s) "
        f"{statistics.median(looks) * 1000:.1f} µs; "
        "nothing on the request path"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=200, help="timed operations per figure")
    parser.add_argument("--events", type=int, default=100, help="events per batch")
    args = parser.parse_args(argv)
    size = len(encode_batch(batch(args.events)))
    print(f"batch: {args.events} page views, {size / 1024:.0f} KiB; times in ms, median / p95")
    print()
    print(
        "| backend | write | write (1000 batches spooled) | resend (claim + read + delete) |"
        " open with 1000 batches | 4 drainers + 2 writers: duplicates, missing, seconds |"
        " claimer killed | damaged storage: batches still readable |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for kind in ("files", "files+fsync", "sqlite-wal"):
        one = single_process(kind, args.batches, args.events)
        many = multi_process(kind, args.batches) if kind != "files+fsync" else None
        crash = crash_recovery(kind) if kind != "files+fsync" else "(as files)"
        broken = damage(kind) if kind != "files+fsync" else "(as files)"
        mp = (
            f"{many['mp_duplicates']}, {many['mp_missing']}, {many['mp_seconds']}"
            if many
            else "(as files)"
        )
        print(
            f"| {kind} | {one['write']} | {one['write_1000']} | {one['resend']} |"
            f" {one['open_1000']} | {mp} | {crash} | {broken} |"
        )
    print()
    print(healthy_path())
    return 0


if __name__ == "__main__":
    sys.exit(main())
