"""The audit trail: every assessment, card set and feedback, durable and hash-chained.

Each record's hash covers its content and the previous record's hash, so changing, removing or
reordering any record breaks the chain from that point (`vasoguide trail verify`). With a trail
key (kept outside the database) the hash is an HMAC: someone who can write the database but
not read the key cannot rewrite history and recompute the chain. A one-row head table holds
the last sequence number and hash: appends lock it, which serialises writers across processes
(PostgreSQL `SELECT ... FOR UPDATE`; SQLite `BEGIN IMMEDIATE`), and it lets verification
notice records cut from the end. Checkpoints (sequence number, hash, time; signed with the key)
are exported to a file outside the database; verification against them detects truncation,
rollback to an old copy and re-chaining up to the last checkpoint. An append returns only
after its transaction is committed (SQLite with `synchronous=FULL`), so an acknowledged record
survives a crash.

The trail holds clinical data (the Assessment and its inputs) by design; it is a record, not a
log. Access tokens are never part of any payload.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import (
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    create_engine,
    delete,
    event,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from . import jsonio

__all__ = [
    "GENESIS", "Checkpoint", "Receipt", "Trail", "Verification", "export_checkpoint",
    "open_trail", "read_checkpoints", "read_key", "record_hash",
]

GENESIS = "sha256:" + "0" * 64
KEYED = "hmac-sha256:"
MIN_KEY_BYTES = 32


class _Base(DeclarativeBase):
    pass


class _Record(_Base):
    __tablename__ = "trail_record"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    time: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(40))
    protocol_digest: Mapped[str] = mapped_column(String(80))
    payload: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(80))
    hash: Mapped[str] = mapped_column(String(80))


class _Head(_Base):
    __tablename__ = "trail_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(80))


class _Card(_Base):
    """Which record served a card uuid, so feedback can be tied to the advice it is about."""

    __tablename__ = "trail_card"
    uuid: Mapped[str] = mapped_column(String(80), primary_key=True)
    seq: Mapped[int] = mapped_column(ForeignKey("trail_record.seq"))


class _Jti(_Base):
    """Token ids seen (CDS Hooks `jti` replay cache), shared by every worker on the database."""

    __tablename__ = "trail_jti"
    key: Mapped[str] = mapped_column(String(80), primary_key=True)  # sha256 of iss and jti
    exp: Mapped[float] = mapped_column(Float)


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str)


def _payload_text(value: Any) -> str:
    """The stored payload: sorted-key compact JSON (orjson when installed). The chain hashes
    the stored text, so how it was produced never matters to `verify`."""
    return jsonio.canonical(value)


def record_hash(
    prev: str, seq: int, time: str, kind: str, digest: str, payload: str,
    key: bytes | None = None,
) -> str:
    """sha256 (HMAC-SHA256 with `key`) over the canonical JSON array of the record's fields.

    Strings and integers only, so orjson's compact output is byte for byte that of
    `canonical_json` (tested); orjson refuses lone surrogates, which then take the slow path.
    """
    fields: list[str | int] = [prev, seq, time, kind, digest, payload]
    try:
        body = jsonio.dumps_exact(fields)
    except (TypeError, ValueError):
        body = canonical_json(fields).encode("utf-8")
    if key is not None:
        return KEYED + hmac.new(key, body, hashlib.sha256).hexdigest()
    return "sha256:" + hashlib.sha256(body).hexdigest()


def read_key(path: str | Path) -> bytes:
    """The trail key: a file holding at least 32 random bytes (e.g. `vasoguide trail keygen`:
    64 hex digits). Kept outside the database, readable by the service only."""
    raw = Path(path).read_bytes().strip()
    try:
        key = bytes.fromhex(raw.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        key = raw
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(f"trail key {path}: at least {MIN_KEY_BYTES} bytes needed")
    return key


@dataclass(frozen=True)
class Checkpoint:
    """The trail's head at a moment, to keep outside the database (signed with the key)."""

    seq: int
    hash: str
    time: str
    mac: str | None = None

    def signed_fields(self) -> bytes:
        return jsonio.dumps_exact(["vasoguide-trail-checkpoint", self.seq, self.hash, self.time])

    def sign(self, key: bytes | None) -> Checkpoint:
        if key is None:
            return self
        mac = hmac.new(key, self.signed_fields(), hashlib.sha256).hexdigest()
        return Checkpoint(self.seq, self.hash, self.time, mac)

    def signature_ok(self, key: bytes) -> bool:
        return self.mac is not None and hmac.compare_digest(self.mac, self.sign(key).mac or "")


def export_checkpoint(path: str | Path, checkpoint: Checkpoint) -> None:
    """Append one JSON line (O_APPEND, one write: lines from several workers do not mix) and
    fsync: the sink is a file, ideally on another host or an append-only store."""
    line = jsonio.dumps({k: v for k, v in vars(checkpoint).items() if v is not None}) + b"\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)


def read_checkpoints(path: str | Path) -> list[Checkpoint]:
    out: list[Checkpoint] = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            out.append(Checkpoint(int(data["seq"]), str(data["hash"]), str(data["time"]),
                                  data.get("mac")))
        except (ValueError, KeyError, TypeError):
            raise ValueError(f"{path}:{number}: not a checkpoint line") from None
    return out


@dataclass(frozen=True)
class Receipt:
    seq: int
    hash: str


@dataclass
class _Pending:
    kind: str
    text: str
    protocol_digest: str
    stamp: str
    card_uuids: tuple[str, ...]
    done: bool = False
    receipt: Receipt | None = None
    error: Exception | None = None


@dataclass
class Verification:
    count: int = 0
    head: str = GENESIS
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # let SQLAlchemy's BEGIN below take effect
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")  # take the write lock before reading head

        return engine
    return create_engine(url, pool_pre_ping=True)


def _rollback(cur: Any) -> None:
    """Roll back if a transaction is still open (SQLite ends some on its own after errors)."""
    with contextlib.suppress(sqlite3.Error):
        cur.execute("ROLLBACK")


class Trail:
    def __init__(
        self, url: str, *, key: bytes | None = None,
        checkpoint_sink: Callable[[Checkpoint], None] | None = None, checkpoint_every: int = 0,
    ) -> None:
        """`key`: HMAC key for the chain (None: plain sha256, as before). `checkpoint_sink`
        receives a signed checkpoint each time the trail passes a multiple of
        `checkpoint_every` records (and on `close`)."""
        if key is not None and len(key) < MIN_KEY_BYTES:
            raise ValueError(f"trail key: at least {MIN_KEY_BYTES} bytes needed")
        self._key = key
        self._sink = checkpoint_sink
        self._every = checkpoint_every
        if url.startswith("sqlite:///"):
            from pathlib import Path

            path = url.removeprefix("sqlite:///")
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.engine = _engine(url)
        self._sqlite = url.startswith("sqlite")
        _Base.metadata.create_all(self.engine)
        # One committer at a time per process (the head row's lock covers other processes).
        self._cond = threading.Condition()
        self._committing = False
        self._pending: list[_Pending] = []
        self._seen_count = 0

    def close(self) -> None:
        if self._sink is not None:
            with contextlib.suppress(Exception):  # best effort at shutdown; the DB is intact
                self._sink(self.checkpoint())
        self.engine.dispose()

    def checkpoint(self, now: datetime | None = None) -> Checkpoint:
        """The current head, signed with the key when there is one."""
        with Session(self.engine) as session:
            head = session.get(_Head, 1)
            seq, digest = (head.seq, head.hash) if head is not None else (0, GENESIS)
        stamp = (now or datetime.now(UTC)).isoformat()
        return Checkpoint(seq, digest, stamp).sign(self._key)

    def _maybe_checkpoint(self, receipts: list[Receipt]) -> None:
        if self._sink is None or self._every <= 0 or not receipts:
            return
        first, last = receipts[0], receipts[-1]
        if last.seq // self._every > (first.seq - 1) // self._every:
            # Never fails the append: the records are committed whatever the sink does.
            with contextlib.suppress(Exception):
                self._sink(Checkpoint(last.seq, last.hash,
                                      datetime.now(UTC).isoformat()).sign(self._key))

    def append(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        protocol_digest: str,
        time: datetime,
        card_uuids: Iterable[str] = (),
    ) -> Receipt:
        """Store one record, chained to the last; returns only after its commit.

        Group commit: appends that arrive while a commit is running are written together in
        the next transaction, so concurrent requests share one fsync instead of queueing for
        one each. Every caller still returns only once its own record is durable.
        """
        item = _Pending(kind, _payload_text(payload), protocol_digest, time.isoformat(),
                        tuple(card_uuids))
        with self._cond:
            self._pending.append(item)
            while not item.done and self._committing:
                self._cond.wait()
            if not item.done:
                self._committing = True
                batch, self._pending = self._pending, []
        if not item.done:
            self._commit_batch(batch)
        if item.error is not None:
            raise item.error
        if item.receipt is None:  # pragma: no cover - set whenever error is None
            raise RuntimeError("trail append finished without a receipt")
        return item.receipt

    def _commit_batch(self, batch: list[_Pending]) -> None:
        try:
            try:
                receipts = self._write(batch)
                for it, receipt in zip(batch, receipts, strict=True):
                    it.receipt = receipt
            except Exception:  # one bad record must not fail its neighbours: retry one by one
                for it in batch:
                    try:
                        (it.receipt,) = self._write([it])
                    except Exception as exc:  # handed back to that caller only
                        it.error = exc
            self._maybe_checkpoint([it.receipt for it in batch if it.receipt is not None])
        finally:
            with self._cond:
                for it in batch:
                    it.done = True
                self._committing = False
                self._cond.notify_all()

    def _write(self, batch: list[_Pending]) -> list[Receipt]:
        """One transaction: lock the head, chain every record of the batch, move the head.

        SQLAlchemy Core, not the ORM: one multi-row insert per table keeps the per-record cost
        of the audit trail small on the order-sign path.
        """
        if self._sqlite:
            return self._write_sqlite(batch)
        receipts: list[Receipt] = []
        records: list[dict[str, Any]] = []
        cards: list[dict[str, Any]] = []
        with self.engine.begin() as conn:
            head = conn.execute(
                select(_Head.seq, _Head.hash).where(_Head.id == 1).with_for_update()
            ).first()
            if head is None:
                conn.execute(insert(_Head).values(id=1, seq=0, hash=GENESIS))
                seq, prev = 0, GENESIS
            else:
                seq, prev = head.seq, head.hash
            for it in batch:
                seq += 1
                digest = record_hash(prev, seq, it.stamp, it.kind, it.protocol_digest, it.text,
                                     self._key)
                records.append({"seq": seq, "time": it.stamp, "kind": it.kind,
                                "protocol_digest": it.protocol_digest, "payload": it.text,
                                "prev_hash": prev, "hash": digest})
                cards += [{"uuid": uuid, "seq": seq} for uuid in it.card_uuids]
                receipts.append(Receipt(seq, digest))
                prev = digest
            conn.execute(insert(_Record), records)
            if cards:
                conn.execute(insert(_Card), cards)
            conn.execute(update(_Head).where(_Head.id == 1).values(seq=seq, hash=prev))
        return receipts

    def _chain(
        self, batch: list[_Pending], seq: int, prev: str
    ) -> tuple[list[tuple[Any, ...]], list[tuple[str, int]], list[Receipt]]:
        records: list[tuple[Any, ...]] = []
        cards: list[tuple[str, int]] = []
        receipts: list[Receipt] = []
        for it in batch:
            seq += 1
            digest = record_hash(prev, seq, it.stamp, it.kind, it.protocol_digest, it.text,
                                 self._key)
            records.append((seq, it.stamp, it.kind, it.protocol_digest, it.text, prev, digest))
            cards += [(uuid, seq) for uuid in it.card_uuids]
            receipts.append(Receipt(seq, digest))
            prev = digest
        return records, cards, receipts

    def _write_sqlite(self, batch: list[_Pending]) -> list[Receipt]:
        """The same transaction as `_write`, on the SQLite driver directly (about 1 ms less
        CPU per record than Core's statement compilation): `BEGIN IMMEDIATE` takes the write
        lock before the head is read; the commit (WAL, `synchronous=FULL`) is durable."""
        raw = self.engine.raw_connection()
        try:
            cur = raw.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                row = cur.execute("SELECT seq, hash FROM trail_head WHERE id = 1").fetchone()
                if row is None:
                    cur.execute("INSERT INTO trail_head (id, seq, hash) VALUES (1, 0, ?)",
                                (GENESIS,))
                    seq, prev = 0, GENESIS
                else:
                    seq, prev = int(row[0]), str(row[1])
                records, cards, receipts = self._chain(batch, seq, prev)
                cur.executemany(
                    "INSERT INTO trail_record (seq, time, kind, protocol_digest, payload, "
                    "prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?)", records)
                if cards:
                    cur.executemany("INSERT INTO trail_card (uuid, seq) VALUES (?, ?)", cards)
                cur.execute("UPDATE trail_head SET seq = ?, hash = ? WHERE id = 1",
                            (records[-1][0], records[-1][6]))
                cur.execute("COMMIT")
            except sqlite3.Error as exc:
                _rollback(cur)
                # The same exception types as the Core path (IntegrityError, OperationalError).
                raise DBAPIError.instance(None, None, exc, sqlite3.Error) from exc
            except BaseException:
                _rollback(cur)
                raise
            finally:
                cur.close()
        finally:
            raw.close()  # back to the pool
        return receipts

    def first_use(self, iss: str, jti: str, exp: float, now: float) -> bool:
        """True the first time (iss, jti) is seen while unexpired, by any process sharing
        this database; False for a replay. Atomic without locks held across statements:
        reclaim an expired entry (conditional UPDATE), else insert (the primary key refuses a
        live duplicate, whichever process inserted it)."""
        key = "sha256:" + hashlib.sha256(f"{iss}\n{jti}".encode()).hexdigest()
        with self.engine.begin() as conn:
            reclaimed = conn.execute(
                update(_Jti).where(_Jti.key == key, _Jti.exp <= now).values(exp=exp))
            if reclaimed.rowcount == 1:
                return True
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(_Jti).values(key=key, exp=exp))
        except IntegrityError:
            return False
        self._seen_count += 1
        if self._seen_count % 1000 == 0:  # keep the table to the live tokens
            with self.engine.begin() as conn:
                conn.execute(delete(_Jti).where(_Jti.exp <= now))
        return True

    def card_record(self, uuid: str) -> int | None:
        with Session(self.engine) as session:
            card = session.get(_Card, uuid)
            return card.seq if card else None

    def records(self, batch: int = 500) -> Iterator[dict[str, Any]]:
        last = 0
        with Session(self.engine) as session:
            while True:
                rows = session.execute(
                    select(_Record).where(_Record.seq > last).order_by(_Record.seq).limit(batch)
                ).scalars().all()
                if not rows:
                    return
                for r in rows:
                    yield {"seq": r.seq, "time": r.time, "kind": r.kind,
                           "protocol_digest": r.protocol_digest, "payload": r.payload,
                           "prev_hash": r.prev_hash, "hash": r.hash}
                last = rows[-1].seq

    def verify(self, checkpoints: Iterable[Checkpoint] = ()) -> Verification:
        """Recompute the chain; every break is reported with its sequence number.

        With the key, every record must carry a keyed hash (a plain one was written without
        the key, or forged by someone without it). `checkpoints` (exported earlier, kept
        outside the database) must each match the record at their sequence number.
        """
        result = Verification()
        wanted = list(checkpoints)
        for i, cp in enumerate(wanted, 1):
            if self._key is not None and not cp.signature_ok(self._key):
                result.problems.append(f"checkpoint {i} (record {cp.seq}): signature does "
                                       "not match the trail key: the checkpoint is forged")
        at = {cp.seq for cp in wanted}
        found: dict[int, str] = {0: GENESIS}
        prev, expected_seq = GENESIS, 1
        unkeyed = keyed_unchecked = 0
        for r in self.records():
            if r["seq"] != expected_seq:
                result.problems.append(f"record {expected_seq}: missing (next is {r['seq']})")
            if r["prev_hash"] != prev:
                result.problems.append(f"record {r['seq']}: does not follow the previous record")
            is_keyed = r["hash"].startswith(KEYED)
            if is_keyed and self._key is None:
                keyed_unchecked += 1
            else:
                digest = record_hash(r["prev_hash"], r["seq"], r["time"], r["kind"],
                                     r["protocol_digest"], r["payload"],
                                     self._key if is_keyed else None)
                if digest != r["hash"]:
                    result.problems.append(
                        f"record {r['seq']}: content does not match its hash")
                elif self._key is not None and not is_keyed:
                    unkeyed += 1
            if r["seq"] in at:
                found[r["seq"]] = r["hash"]
            prev, expected_seq = r["hash"], r["seq"] + 1
            result.count += 1
        result.head = prev
        if unkeyed:
            result.problems.append(f"{unkeyed} records carry a plain (unkeyed) hash: written "
                                   "without the trail key, or rewritten by someone without it")
        if keyed_unchecked:
            result.problems.append(f"{keyed_unchecked} records are keyed: verify with the "
                                   "trail key (trail_key_file) to check them")
        with Session(self.engine) as session:
            head = session.get(_Head, 1)
        if head is None and result.count:
            result.problems.append("head row missing: records may have been cut from the end")
        if head is not None and (head.seq != expected_seq - 1 or head.hash != prev):
            result.problems.append(
                f"head says {head.seq} records ending {head.hash[:19]}…, the chain has "
                f"{expected_seq - 1} ending {prev[:19]}…: records were removed or replaced"
            )
        for cp in wanted:
            have = found.get(cp.seq)
            if have is None:
                result.problems.append(
                    f"checkpoint of {cp.time} names record {cp.seq}, the trail has "
                    f"{result.count}: records were removed (truncated or rolled back)")
            elif have != cp.hash:
                result.problems.append(
                    f"checkpoint of {cp.time}: record {cp.seq} differs from the one "
                    "checkpointed: history was rewritten (re-chained) or rolled back")
        return result


class _TrailSettings(Protocol):
    database_url: str
    trail_key_file: str | None
    trail_checkpoint_file: str | None
    trail_checkpoint_every: int


def open_trail(settings: _TrailSettings) -> Trail:
    """The trail as the settings describe it: key, checkpoint file and interval."""
    key = read_key(settings.trail_key_file) if settings.trail_key_file else None
    sink: Callable[[Checkpoint], None] | None = None
    if settings.trail_checkpoint_file:
        path = settings.trail_checkpoint_file

        def sink(checkpoint: Checkpoint) -> None:
            export_checkpoint(path, checkpoint)

    return Trail(settings.database_url, key=key, checkpoint_sink=sink,
                 checkpoint_every=settings.trail_checkpoint_every)
