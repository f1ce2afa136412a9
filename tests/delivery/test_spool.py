"""The durable spool on its own: files, claims, the byte bound, damage, processes, fork."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from posthog_web.delivery import spool as spool_module
from posthog_web.delivery.spool import Spool, decode_batch, encode_batch, parse_name

ROOT = Path(__file__).resolve().parents[2]


def event(i: int, tag: str = "t") -> bytes:
    # Fixed width: every batch of the same length has the same size.
    return json.dumps({"event": f"{tag}{i:04d}", "distinct_id": "u1"}).encode()


def batch(first: int, count: int = 3, tag: str = "t") -> list[bytes]:
    return [event(i, tag) for i in range(first, first + count)]


@pytest.fixture
def spool(tmp_path: Path) -> Spool:
    opened = Spool(str(tmp_path / "spool"), max_bytes=10_000_000)
    opened.open()
    return opened


def drain(spool: Spool) -> list[list[bytes]]:
    batches = []
    while (claim := spool.claim()) is not None:
        batches.append(claim.events)
        claim.done()
    return batches


def test_batches_come_back_oldest_first_and_done_deletes(spool: Spool) -> None:
    for first in (0, 3, 6):
        spool.write(batch(first))
    assert spool.stats()[:2] == (3, 9)
    assert drain(spool) == [batch(0), batch(3), batch(6)]
    assert spool.batches() == []
    assert spool.claim() is None


def test_released_batch_stays_next_in_line(spool: Spool) -> None:
    spool.write(batch(0))
    spool.write(batch(3))
    claim = spool.claim()
    assert claim is not None
    assert claim.events == batch(0)
    claim.release()
    claim.release()  # idempotent
    assert drain(spool) == [batch(0), batch(3)]


def test_files_are_private_and_named_for_the_bound(spool: Spool) -> None:
    result = spool.write(batch(0, 4))
    assert (result.written, result.dropped) == (4, 0)
    [name] = spool.batches()
    path = Path(spool.path) / name.name
    assert name.events == 4
    assert name.size == path.stat().st_size
    assert path.stat().st_mode & 0o777 == 0o600
    assert Path(spool.path).stat().st_mode & 0o777 == 0o700
    assert spool.write([]).written == 0


def test_encoding_round_trip_and_damage_detection() -> None:
    events = batch(0, 5)
    data = encode_batch(events)
    assert decode_batch(data) == events
    for broken, why in [
        (b"garbage", "bad header"),
        (b"PHWSPOOL1 x 0\n{}", "bad header"),
        (data[:-3], "checksum"),
        (data.replace(b'"t0001"', b'"t0009"'), "checksum"),
        (encode_batch(events).replace(b" 5 ", b" 4 ", 1), "count"),
        (encode_batch([b"not json"]), "count"),
    ]:
        with pytest.raises(ValueError, match=why):
            decode_batch(broken)
    assert decode_batch(encode_batch([])) == []
    assert parse_name("0001-2-3-abc-4-5.batch") == ("0001-2-3-abc-4-5.batch", 4, 5)
    for other in (".tmp-1-2", "x.batch", "a-b-c.batch", "1-2-3-abc-x-5.batch", "notes.txt"):
        assert parse_name(other) is None


def test_past_the_bound_the_oldest_batches_are_dropped(tmp_path: Path) -> None:
    one = len(encode_batch(batch(0)))
    bounded = Spool(str(tmp_path / "spool"), max_bytes=one * 3)
    bounded.open()
    dropped = [bounded.write(batch(first)).dropped for first in range(0, 15, 3)]
    assert dropped == [0, 0, 0, 3, 3]
    assert drain(bounded) == [batch(6), batch(9), batch(12)]
    # A batch larger than the whole bound is refused, not written.
    result = bounded.write(batch(0, 50))
    assert (result.written, result.dropped) == (0, 50)
    assert bounded.batches() == []


def test_the_bound_leaves_a_batch_that_is_being_sent(tmp_path: Path) -> None:
    one = len(encode_batch(batch(0)))
    path = str(tmp_path / "spool")
    mine, other = Spool(path, max_bytes=one * 2), Spool(path, max_bytes=one * 2)
    mine.open()
    mine.write(batch(0))
    mine.write(batch(3))
    held = other.claim()  # another worker is sending the oldest
    assert held is not None
    assert mine.write(batch(6)).dropped == 3  # the next oldest went instead
    held.done()
    assert drain(mine) == [batch(6)]


def test_a_claimed_batch_is_skipped_by_other_claimers(tmp_path: Path) -> None:
    path = str(tmp_path / "spool")
    first, second = Spool(path, 1_000_000), Spool(path, 1_000_000)
    first.open()
    first.write(batch(0))
    first.write(batch(3))
    a = first.claim()
    b = second.claim()
    assert a is not None
    assert b is not None
    assert (a.events, b.events) == (batch(0), batch(3))
    assert second.claim() is None
    a.done()
    b.done()
    # A batch deleted by someone else after it was listed is skipped.
    first.write(batch(6))
    first.write(batch(9))
    assert first.batches()
    stale = Spool(path, 1_000_000)
    stale._cursor = [b.name for b in reversed(first.batches())]
    claim = first.claim()
    assert claim is not None
    claim.done()
    assert [c.events for c in [stale.claim()] if c is not None] == [batch(9)]


def test_a_damaged_batch_is_moved_aside_and_the_rest_are_sent(
    spool: Spool, caplog: pytest.LogCaptureFixture
) -> None:
    spool.write(batch(0))
    spool.write(batch(3))
    spool.write(batch(6))
    names = [b.name for b in spool.batches()]
    path = Path(spool.path) / names[0]
    path.write_bytes(path.read_bytes()[:-5] + b"xxxxx")
    (Path(spool.path) / "notes.txt").write_text("not a batch")
    assert drain(spool) == [batch(3), batch(6)]
    corrupt = Path(spool.path) / "corrupt"
    assert [p.name for p in corrupt.iterdir()] == [names[0]]
    assert "unreadable (checksum mismatch)" in caplog.text
    assert caplog.records[0].levelno == logging.ERROR


def test_only_the_latest_damaged_batches_are_kept(
    spool: Spool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(spool_module, "MAX_CORRUPT_FILES", 2)
    for first in range(4):
        spool.write(batch(first))
    for name in spool.batches():
        (Path(spool.path) / name.name).write_bytes(b"garbage")
    assert drain(spool) == []
    assert len(list((Path(spool.path) / "corrupt").iterdir())) == 2


def test_a_damaged_batch_that_cannot_be_moved_is_left(
    spool: Spool, caplog: pytest.LogCaptureFixture
) -> None:
    spool.write(batch(0))
    [name] = spool.batches()
    (Path(spool.path) / name.name).write_bytes(b"garbage")
    (Path(spool.path) / "corrupt").write_text("a file where the directory should be")
    assert spool.claim() is None
    assert "stays" in caplog.text


def test_something_else_in_place_of_the_directory_is_moved_aside(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    target = tmp_path / "spool"
    target.write_text("oops")
    opened = Spool(str(target), 1_000_000)
    opened.open()
    assert target.is_dir()
    [aside] = tmp_path.glob("spool.corrupt-*")
    assert aside.read_text() == "oops"
    assert "was not a directory" in caplog.text
    opened.write(batch(0))
    assert drain(opened) == [batch(0)]


def test_an_unusable_root_raises_oserror(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(OSError):
        Spool(str(tmp_path / "file" / "spool"), 1_000_000).open()


def test_open_removes_only_stale_temporary_files(spool: Spool) -> None:
    old = Path(spool.path) / ".tmp-1-1"
    new = Path(spool.path) / ".tmp-1-2"
    old.write_bytes(b"half")
    new.write_bytes(b"half")
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    spool.open()
    assert not old.exists()
    assert new.exists()
    assert spool.batches() == []


def test_a_failed_write_leaves_no_temporary_file(
    spool: Spool, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(fd: int, data: bytes) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(spool_module, "_write_all", fail)
    with pytest.raises(OSError, match="No space"):
        spool.write(batch(0))
    assert os.listdir(spool.path) == [".lock"]


def _python(code: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


DRAINER = """
import json, sys, time
from posthog_web.delivery.spool import Spool
spool = Spool(sys.argv[1], 10_000_000)
spool.open()
seen, quiet = [], None
while True:
    claim = spool.claim()
    if claim is None:
        quiet = quiet or time.monotonic()
        if time.monotonic() - quiet > 0.5:
            break
        time.sleep(0.01)
        continue
    quiet = None
    seen += [json.loads(e)["event"] for e in claim.events]
    claim.done()
print(json.dumps(seen))
"""

WRITER = """
import json, sys
from posthog_web.delivery.spool import Spool
spool = Spool(sys.argv[1], 10_000_000)
spool.open()
for i in range(40):
    spool.write([json.dumps({"event": f"w{i}", "distinct_id": "u"}).encode()])
"""


@pytest.mark.slow
def test_processes_sharing_a_directory_send_each_batch_once(spool: Spool) -> None:
    for first in range(0, 120, 2):
        spool.write(batch(first, 2))
    processes = [_python(DRAINER, spool.path) for _ in range(3)]
    processes.append(_python(WRITER, spool.path))
    seen: list[str] = []
    for process in processes:
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0, err
        if out.strip():
            seen += json.loads(out)
    seen += [json.loads(e)["event"] for b in drain(spool) for e in b]
    expected = [f"t{i:04d}" for i in range(120)] + [f"w{i}" for i in range(40)]
    assert sorted(seen) == sorted(expected)


@pytest.mark.slow
def test_a_killed_claimer_leaves_the_batch_to_others_at_once(spool: Spool) -> None:
    spool.write(batch(0))
    code = """
    import os, signal, sys
    from posthog_web.delivery.spool import Spool
    spool = Spool(sys.argv[1], 10_000_000)
    spool.open()
    assert spool.claim() is not None
    os.kill(os.getpid(), signal.SIGKILL)
    """
    process = _python(code, spool.path)
    process.communicate(timeout=60)
    assert process.returncode == -9
    assert drain(spool) == [batch(0)]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_does_not_keep_the_parents_claims(spool: Spool) -> None:
    spool.write(batch(0))
    claim = spool.claim()
    assert claim is not None
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        os.close(write_end)
        os.read(read_end, 1)  # until the parent let go
        child = Spool(spool.path, 10_000_000)
        got = child.claim()
        os._exit(0 if got is not None and got.events == batch(0) else 3)
    os.close(read_end)
    claim.release()
    os.write(write_end, b"x")
    os.close(write_end)
    _, status = os.waitpid(pid, 0)
    # With the parent's descriptor still open in the child, its lock would outlive the release.
    assert os.waitstatus_to_exitcode(status) == 0
