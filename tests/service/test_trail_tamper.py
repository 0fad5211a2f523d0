"""Tamper evidence beyond the chain: a keyed chain (HMAC, key outside the database) and signed
checkpoints exported to a file. Each attack below is one the plain chain let through (or
reported as intact); what stays undetectable is asserted too, as documented in SERVICE.md."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from vasoguide.service.trail import (
    Checkpoint,
    Trail,
    export_checkpoint,
    read_checkpoints,
    read_key,
    record_hash,
)

from .trail_db import db_url_fixture, pg_url_fixture  # noqa: F401 - fixtures

NOW = datetime(2026, 3, 1, 8, tzinfo=UTC)
KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))


def fill(t: Trail, n: int = 5, start: int = 0) -> None:
    for i in range(start, start + n):
        t.append("assessment", {"n": i, "decision": "START_NOREPINEPHRINE"},
                 protocol_digest="sha256:abc", time=NOW, card_uuids=[f"card-{i}"])


@pytest.fixture
def opened() -> Iterator[Callable[..., Trail]]:
    trails: list[Trail] = []

    def make(url: str, **kwargs: object) -> Trail:
        t = Trail(url, **kwargs)  # type: ignore[arg-type]
        trails.append(t)
        return t

    yield make
    for t in trails:
        t.engine.dispose()


def sql(t: Trail, *statements: str) -> None:
    with t.engine.begin() as conn:
        for s in statements:
            conn.execute(text(s))


def truncate_to(t: Trail, seq: int) -> None:
    """What someone with write access does to hide the last records: cut them and move the
    head back to the record before, so the chain and head agree."""
    (r,) = [r for r in t.records() if r["seq"] == seq]
    sql(t, f"DELETE FROM trail_card WHERE seq > {seq}",
        f"DELETE FROM trail_record WHERE seq > {seq}",
        f"UPDATE trail_head SET seq = {seq}, hash = '{r['hash']}'")


def rechain(t: Trail, key: bytes | None, seq: int = 2) -> None:
    """Rewrite record `seq`'s decision and recompute every later hash and the head."""
    records = list(t.records())
    prev = records[seq - 2]["hash"] if seq > 1 else records[0]["prev_hash"]
    with t.engine.begin() as conn:
        for r in records[seq - 1:]:
            payload = r["payload"].replace("START", "STOP") if r["seq"] == seq else r["payload"]
            digest = record_hash(prev, r["seq"], r["time"], r["kind"], r["protocol_digest"],
                                 payload, key)
            conn.execute(text("UPDATE trail_record SET payload = :p, prev_hash = :v, hash = :h "
                              "WHERE seq = :s"), {"p": payload, "v": prev, "h": digest,
                                                  "s": r["seq"]})
            prev = digest
        conn.execute(text("UPDATE trail_head SET hash = :h"), {"h": prev})


def problems(t: Trail, checkpoints: list[Checkpoint] = ()) -> str:  # type: ignore[assignment]
    return "\n".join(t.verify(checkpoints).problems)


def test_keyed_chain_verifies_and_needs_the_key(
    db_url: str, opened: Callable[..., Trail]
) -> None:
    t = opened(db_url, key=KEY)
    fill(t)
    assert t.verify().ok
    assert all(r["hash"].startswith("hmac-sha256:") for r in t.records())
    assert "verify with the trail key" in problems(opened(db_url))
    assert "content does not match" in problems(opened(db_url, key=OTHER_KEY))


def test_rechaining_is_caught_by_the_key_not_by_the_plain_chain(
    db_url: str, opened: Callable[..., Trail]
) -> None:
    plain = opened(db_url)
    fill(plain)
    rechain(plain, None)
    assert plain.verify().ok  # the documented weakness of an unkeyed chain

    keyed_url = db_url
    sql(plain, "DELETE FROM trail_card", "DELETE FROM trail_record", "DELETE FROM trail_head")
    keyed = opened(keyed_url, key=KEY)
    fill(keyed)
    rechain(keyed, None)  # the forger has no key: plain sha256 hashes
    assert "plain (unkeyed) hash" in problems(keyed)
    sql(keyed, "DELETE FROM trail_card", "DELETE FROM trail_record", "DELETE FROM trail_head")
    fill(keyed)
    rechain(keyed, OTHER_KEY)  # or a guessed key
    assert "content does not match" in problems(keyed)


@pytest.mark.parametrize("key", [None, KEY], ids=["plain", "keyed"])
def test_checkpoint_catches_truncation_head_deletion_and_wiping(
    db_url: str, opened: Callable[..., Trail], key: bytes | None
) -> None:
    t = opened(db_url, key=key)
    fill(t)
    mark = t.checkpoint(NOW)
    assert t.verify([mark]).ok

    truncate_to(t, 3)
    assert t.verify().ok  # chain and head agree: only the checkpoint can tell
    assert "records were removed" in problems(t, [mark])

    sql(t, "DELETE FROM trail_head")
    assert "head row missing" in problems(t)

    sql(t, "DELETE FROM trail_card", "DELETE FROM trail_record")
    assert t.verify().ok and t.verify().count == 0  # "deleting everything" alone: a new trail
    assert "the trail has 0: records were removed" in problems(t, [mark])


@pytest.mark.parametrize("key", [None, KEY], ids=["plain", "keyed"])
def test_checkpoint_catches_rechaining_before_it(
    db_url: str, opened: Callable[..., Trail], key: bytes | None
) -> None:
    t = opened(db_url, key=key)
    fill(t)
    mark = t.checkpoint(NOW)
    rechain(t, key)  # even with the key (an insider who has it): the checkpoint holds
    assert "history was rewritten" in problems(t, [mark])


def test_rollback_to_an_old_copy_of_the_file(tmp_path: Path, opened: Callable[..., Trail]) -> None:
    path = tmp_path / "trail.sqlite"
    t = opened(f"sqlite:///{path}", key=KEY)
    fill(t, 3)
    t.engine.dispose()
    shutil.copy(path, tmp_path / "old.sqlite")
    fill(t, 2, start=3)
    mark = t.checkpoint(NOW)
    t.engine.dispose()
    shutil.copy(tmp_path / "old.sqlite", path)  # every WAL frame was checkpointed on dispose
    for suffix in ("-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    restored = opened(f"sqlite:///{path}", key=KEY)
    assert restored.verify().ok and restored.verify().count == 3
    assert "records were removed" in problems(restored, [mark])


def test_forged_checkpoint_is_refused(db_url: str, opened: Callable[..., Trail]) -> None:
    t = opened(db_url, key=KEY)
    fill(t)
    genuine = t.checkpoint(NOW)
    forged = Checkpoint(genuine.seq, genuine.hash, genuine.time, "0" * 64)
    assert "checkpoint is forged" in problems(t, [forged])
    unsigned = Checkpoint(genuine.seq, genuine.hash, genuine.time)
    assert "checkpoint is forged" in problems(t, [unsigned])


def test_checkpoints_are_exported_as_the_trail_grows(
    tmp_path: Path, db_url: str, opened: Callable[..., Trail]
) -> None:
    sink = tmp_path / "checkpoints.jsonl"
    t = opened(db_url, key=KEY, checkpoint_sink=lambda c: export_checkpoint(sink, c),
               checkpoint_every=2)
    fill(t, 5)
    t.close()  # a last one at shutdown
    marks = read_checkpoints(sink)
    assert [m.seq for m in marks] == [2, 4, 5]
    assert all(m.signature_ok(KEY) for m in marks)
    assert sink.stat().st_mode & 0o777 == 0o600
    assert opened(db_url, key=KEY).verify(marks).ok


def test_cli_keygen_checkpoint_and_verify(tmp_path: Path) -> None:
    from .test_cli import cli

    runner = CliRunner()
    key_file, marks, db = tmp_path / "trail.key", tmp_path / "cp.jsonl", tmp_path / "t.sqlite"
    assert runner.invoke(cli(), ["trail", "keygen", str(key_file)]).exit_code == 0
    assert runner.invoke(cli(), ["trail", "keygen", str(key_file)]).exit_code != 0  # no overwrite
    key = read_key(key_file)
    assert len(key) == 32 and key_file.stat().st_mode & 0o777 == 0o600
    t = Trail(f"sqlite:///{db}", key=key)
    fill(t)
    t.close()
    env = {"VASOGUIDE_TRAIL_KEY_FILE": str(key_file),
           "VASOGUIDE_TRAIL_CHECKPOINT_FILE": str(marks)}
    args = ["--db", f"sqlite:///{db}"]
    out = runner.invoke(cli(), ["trail", "checkpoint", *args], env=env)
    assert out.exit_code == 0, out.output
    ok = runner.invoke(cli(), ["trail", "verify", *args], env=env)
    assert ok.exit_code == 0 and "keyed; matches 1 checkpoints" in ok.output, ok.output
    t = Trail(f"sqlite:///{db}", key=key)
    truncate_to(t, 4)
    t.close()
    broken = runner.invoke(cli(), ["trail", "verify", *args], env=env)
    assert broken.exit_code == 1 and "records were removed" in broken.output
