"""The audit trail: chained, verifiable, tamper-evident, and durable across a crash, on SQLite
and on a real PostgreSQL server (`db_url`)."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from vasoguide.service.trail import GENESIS, Trail, Verification

from .trail_db import db_url_fixture, pg_url_fixture  # noqa: F401 - fixtures

NOW = datetime(2026, 3, 1, 8, tzinfo=UTC)


def verify(url: str) -> Verification:
    t = Trail(url)
    try:
        return t.verify()
    finally:
        t.close()


@pytest.fixture
def trail(db_url: str) -> Iterator[Trail]:
    t = Trail(db_url)
    for i in range(5):
        t.append(
            "assessment",
            {"n": i, "decision": "START_NOREPINEPHRINE"},
            protocol_digest="sha256:abc",
            time=NOW,
            card_uuids=[f"card-{i}"],
        )
    yield t
    t.close()


def test_empty_trail_verifies(db_url: str) -> None:
    result = verify(db_url)
    assert result.ok and result.count == 0 and result.head == GENESIS


def test_chain_verifies_and_links(trail: Trail) -> None:
    result = trail.verify()
    assert result.ok, result.problems
    records = list(trail.records())
    assert result.count == 5 and result.head == records[-1]["hash"]
    assert records[0]["prev_hash"] == GENESIS
    assert all(b["prev_hash"] == a["hash"] for a, b in itertools.pairwise(records))
    assert trail.card_record("card-3") == 4 and trail.card_record("nope") is None


@pytest.mark.parametrize(
    ("sql", "problem"),
    [
        (
            "UPDATE trail_record SET payload = replace(payload, 'START', 'STOP') WHERE seq = 3",
            "record 3: content does not match",
        ),
        (
            "UPDATE trail_record SET protocol_digest = 'sha256:other' WHERE seq = 2",
            "record 2: content does not match",
        ),
        ("DELETE FROM trail_card WHERE seq = 2; DELETE FROM trail_record WHERE seq = 2",
         "record 2: missing"),
        ("DELETE FROM trail_card WHERE seq = 5; DELETE FROM trail_record WHERE seq = 5",
         "records were removed"),
        ("DELETE FROM trail_card WHERE seq = 5; DELETE FROM trail_record WHERE seq = 5; "
         "DELETE FROM trail_head", "head row missing"),
    ],
)
def test_tampering_is_detected(trail: Trail, sql: str, problem: str) -> None:
    with trail.engine.begin() as conn:
        for statement in sql.split("; "):
            conn.execute(text(statement))
    result = trail.verify()
    assert not result.ok
    assert any(problem in p for p in result.problems), result.problems


def test_rewriting_a_record_with_a_fresh_hash_breaks_the_next_link(trail: Trail) -> None:
    from vasoguide.service.trail import record_hash

    (r,) = [r for r in trail.records() if r["seq"] == 2]
    forged = r["payload"].replace("START", "STOP")
    digest = record_hash(r["prev_hash"], 2, r["time"], r["kind"], r["protocol_digest"], forged)
    with trail.engine.begin() as conn:
        conn.execute(
            text("UPDATE trail_record SET payload = :p, hash = :h WHERE seq = 2"),
            {"p": forged, "h": digest},
        )
    assert any("record 3: does not follow" in p for p in trail.verify().problems)


def test_failed_write_leaves_the_chain_intact(trail: Trail) -> None:
    with pytest.raises(IntegrityError):  # fails after the record row was added: all rolled back
        trail.append("cards", {"n": 99}, protocol_digest="x", time=NOW, card_uuids=["card-1"])
    result = trail.verify()
    assert result.ok and result.count == 5
    assert trail.append("cards", {"n": 6}, protocol_digest="x", time=NOW).seq == 6
    assert trail.verify().ok


_WRITER = textwrap.dedent("""
    import sys
    from datetime import UTC, datetime
    from vasoguide.service.trail import Trail
    t = Trail(sys.argv[1])
    i = 0
    while True:
        r = t.append("assessment", {"n": i, "pad": "x" * 2000}, protocol_digest="sha256:abc",
                     time=datetime.now(UTC))
        print(r.seq, flush=True)  # acknowledged only after the commit returned
        i += 1
""")


def test_crash_mid_write_loses_nothing_acknowledged(db_url: str) -> None:
    url = db_url
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRITER, url],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    acknowledged = 0
    deadline = time.monotonic() + 30
    while acknowledged < 40 and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line:
            acknowledged = int(line)
    os.kill(proc.pid, signal.SIGKILL)  # no cleanup, no final commit, mid-transaction or not
    proc.wait()
    proc.stdout.close()
    assert acknowledged >= 40
    result = verify(url)
    assert result.ok, result.problems
    assert result.count >= acknowledged


def test_concurrent_appends_share_commits_and_stay_chained(db_url: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    t = Trail(db_url)
    with ThreadPoolExecutor(16) as pool:
        receipts = list(pool.map(
            lambda i: t.append("cards", {"i": i}, protocol_digest="x", time=NOW,
                               card_uuids=[f"u{i}"]), range(200)))
    assert sorted(r.seq for r in receipts) == list(range(1, 201))
    result = t.verify()
    assert result.ok and result.count == 200
    assert all(t.card_record(f"u{i}") is not None for i in range(0, 200, 37))
    t.close()


def test_a_bad_record_in_a_batch_fails_alone(db_url: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    t = Trail(db_url)
    t.append("cards", {}, protocol_digest="x", time=NOW, card_uuids=["dup"])

    def one(i: int) -> str:
        try:
            t.append("cards", {"i": i}, protocol_digest="x", time=NOW,
                     card_uuids=["dup" if i == 7 else f"u{i}"])
        except IntegrityError:
            return "failed"
        return "ok"

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(one, range(30)))
    assert outcomes.count("failed") == 1 and outcomes[7] == "failed"
    assert t.verify().ok and t.verify().count == 30
    t.close()


_PROCESS_WRITER = textwrap.dedent("""
    import os, sys, time
    from datetime import UTC, datetime
    from vasoguide.service.trail import Trail
    t = Trail(sys.argv[1])
    open(sys.argv[4] + "." + sys.argv[2], "w").close()  # ready
    while not os.path.exists(sys.argv[4]):  # start together, imports done
        time.sleep(0.01)
    for i in range(int(sys.argv[3])):
        t.append("cards", {"w": sys.argv[2], "i": i}, protocol_digest="x",
                 time=datetime.now(UTC), card_uuids=[f"{sys.argv[2]}-{i}"])
""")


def test_worker_processes_appending_at_once_keep_one_chain(db_url: str, tmp_path: Path) -> None:
    """Several workers (processes, as `--workers` runs them) on one database: the head row's
    lock serialises them; every record lands once, in one intact chain."""
    Trail(db_url).close()  # create the tables before the race
    workers, each = 3, 20
    go = tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, "-c", _PROCESS_WRITER, db_url, f"w{w}",
                               str(each), str(go)]) for w in range(workers)]
    deadline = time.monotonic() + 60
    while len(list(tmp_path.glob("go.*"))) < workers and time.monotonic() < deadline:
        time.sleep(0.02)
    go.touch()
    assert [p.wait(120) for p in procs] == [0] * workers
    t = Trail(db_url)
    result = t.verify()
    assert result.ok, result.problems
    assert result.count == workers * each
    assert {r["seq"] for r in t.records()} == set(range(1, workers * each + 1))
    t.close()


def test_record_hash_input_is_byte_identical_to_the_reference_json() -> None:
    """The fast (orjson) hash input must equal `canonical_json`'s, or old trails stop verifying."""
    import hashlib

    from vasoguide.service.trail import canonical_json, record_hash

    tricky = "".join(chr(i) for i in range(0x300)) + '\u2028\u2029"\\ é ☃ 𝄞'
    for payload in (tricky, '{"a":1}', ""):
        fields: list[str | int] = ["sha256:" + "0" * 64, 12345678901, "2026-03-01T08:00:00+00:00",
                                   "cards", "sha256:ab", payload]
        expected = "sha256:" + hashlib.sha256(canonical_json(fields).encode()).hexdigest()
        assert record_hash(*fields) == expected  # type: ignore[arg-type]
    # A lone surrogate cannot be hashed, as before (the reference encoding refuses it too).
    with pytest.raises(UnicodeEncodeError):
        record_hash("p", 1, "t", "k", "d", "x\udc80y")


def test_the_service_and_its_replay_cache_on_the_database(db_url: str) -> None:
    """The app end to end on each database: assessments land in the trail; the shared `jti`
    replay cache refuses a second use from another process's view of the same table."""
    from vasoguide.service.app import create_app
    from vasoguide.service.security import SharedReplayCache
    from vasoguide.service.settings import Settings

    from .conftest import AppClient
    from .test_assess_api import STATE

    client = AppClient(create_app(Settings(database_url=db_url, auth="none"),
                                  clock=lambda: NOW))
    try:
        assert [client.post("/assess", json=STATE).status_code for _ in range(3)] == [200] * 3
    finally:
        client.close()
    result = verify(db_url)
    assert result.ok and result.count == 3
    one, other = Trail(db_url), Trail(db_url)
    try:
        assert SharedReplayCache(one, lambda: 1000.0).first_use("iss", "j", 1100.0)
        assert not SharedReplayCache(other, lambda: 1000.0).first_use("iss", "j", 1100.0)
    finally:
        one.close()
        other.close()
