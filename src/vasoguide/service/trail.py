"""The audit trail: every assessment, card set and feedback, durable and hash-chained.

Each record's hash covers its content and the previous record's hash, so changing, removing or
reordering any record breaks the chain from that point (`vasoguide trail verify`). A one-row
head table holds the last sequence number and hash: appends lock it, which serialises writers
across processes (PostgreSQL `SELECT ... FOR UPDATE`; SQLite `BEGIN IMMEDIATE`), and it lets
verification notice records cut from the end. An append returns only after its transaction is
committed (SQLite with `synchronous=FULL`), so an acknowledged record survives a crash.

The trail holds clinical data (the Assessment and its inputs) by design; it is a record, not a
log. Access tokens are never part of any payload.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ForeignKey,
    Integer,
    String,
    Text,
    create_engine,
    event,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

__all__ = ["GENESIS", "Receipt", "Trail", "Verification", "record_hash"]

GENESIS = "sha256:" + "0" * 64


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


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str)


def record_hash(prev: str, seq: int, time: str, kind: str, digest: str, payload: str) -> str:
    body = canonical_json([prev, seq, time, kind, digest, payload])
    return "sha256:" + hashlib.sha256(body.encode("utf-8")).hexdigest()


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


class Trail:
    def __init__(self, url: str) -> None:
        if url.startswith("sqlite:///"):
            from pathlib import Path

            path = url.removeprefix("sqlite:///")
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.engine = _engine(url)
        _Base.metadata.create_all(self.engine)
        # One committer at a time per process (the head row's lock covers other processes).
        self._cond = threading.Condition()
        self._committing = False
        self._pending: list[_Pending] = []

    def close(self) -> None:
        self.engine.dispose()

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
        item = _Pending(kind, canonical_json(payload), protocol_digest, time.isoformat(),
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
                digest = record_hash(prev, seq, it.stamp, it.kind, it.protocol_digest, it.text)
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

    def verify(self) -> Verification:
        """Recompute the chain; every break is reported with its sequence number."""
        result = Verification()
        prev, expected_seq = GENESIS, 1
        for r in self.records():
            if r["seq"] != expected_seq:
                result.problems.append(f"record {expected_seq}: missing (next is {r['seq']})")
            if r["prev_hash"] != prev:
                result.problems.append(f"record {r['seq']}: does not follow the previous record")
            digest = record_hash(r["prev_hash"], r["seq"], r["time"], r["kind"],
                                 r["protocol_digest"], r["payload"])
            if digest != r["hash"]:
                result.problems.append(f"record {r['seq']}: content does not match its hash")
            prev, expected_seq = r["hash"], r["seq"] + 1
            result.count += 1
        result.head = prev
        with Session(self.engine) as session:
            head = session.get(_Head, 1)
        if head is not None and (head.seq != expected_seq - 1 or head.hash != prev):
            result.problems.append(
                f"head says {head.seq} records ending {head.hash[:19]}…, the chain has "
                f"{expected_seq - 1} ending {prev[:19]}…: records were removed or replaced"
            )
        return result
