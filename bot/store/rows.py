"""The rows the store hands out and takes in, and the statements every part of it shares."""

from __future__ import annotations

import hashlib
import json
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import insert
from sqlalchemy.engine import Connection

from bot.models import DeliveryStatus, Post
from bot.store.codec import post_from_json, post_to_json
from bot.store.schema import deliveries, events, stories

S = DeliveryStatus


@dataclass(frozen=True, slots=True)
class FeedRow:
    id: int
    url: str
    current_url: str
    etag: str | None
    last_modified: str | None
    initialized: bool
    failures: int
    next_poll_at: float
    last_polled_at: float | None
    last_success_at: float | None
    last_error: str | None
    disabled: bool
    body_digest: str | None = None
    """`content_digest` of the last body processed in full (see FeedUpdate)."""
    failing_since: float | None = None
    """When the current run of failures began (None while the feed works)."""
    lease_owner: str | None = None
    lease_token: int = 0
    """The lease this row was claimed under: every write-back is conditional on it."""


@dataclass(frozen=True, slots=True)
class DeliveryRow:
    id: int
    story_id: int
    platform: str
    seq: int
    status: str
    post: Post
    attempts: int
    failures: int
    next_attempt_at: float
    first_attempt_at: float | None
    sending_since: float | None
    uncertain: bool
    reason: str | None
    remote_id: str | None
    remote_url: str | None
    recovery: dict[str, str]
    created_at: float
    lease_owner: str | None = None
    lease_token: int = 0
    """The lease this row was claimed under (the fence): every change is conditional on it."""


@dataclass(frozen=True, slots=True)
class QueueEntry:
    """A delivery still to be settled, as `queue` lists it (with its story's title)."""

    id: int
    story_id: int
    platform: str
    status: str
    title: str
    story_url: str | None
    next_attempt_at: float
    attempts: int
    reason: str | None
    uncertain: bool
    claimed: bool
    """A worker holds its lease right now: it is being (or about to be) sent."""


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """A delivery that went out, as `history` lists it."""

    id: int
    story_id: int
    platform: str
    title: str
    story_url: str | None
    published_at: float
    remote_id: str | None
    remote_url: str | None


@dataclass(frozen=True, slots=True)
class HandChange:
    """What a person's change to one delivery (cancel, retry) found and did."""

    before: DeliveryRow
    """The delivery as it was when the change was tried."""
    done: bool
    claimed: bool
    """A worker held its lease, so it was left alone."""


@dataclass(frozen=True, slots=True)
class FeedUpdate:
    """A successful poll of one feed, as written back in the cycle's batch."""

    feed_id: int
    etag: str | None
    last_modified: str | None
    current_url: str | None
    next_poll_at: float
    initialized: bool = True
    body_digest: str | None = None
    """The digest of the body just processed in full; None (a 304) keeps the stored one."""
    lease_owner: str | None = None
    lease_token: int = 0
    """The claim the poll was made under: the write-back is conditional on it."""


@dataclass(frozen=True, slots=True)
class NewDelivery:
    platform: str
    post: Post
    status: str = S.QUEUED
    reason: str | None = None
    next_attempt_at: float = 0.0


def worker_id() -> str:
    """`host:pid:random:space`, new at every process start.

    The random part is the identity: two containers sharing a host name, each with its worker
    as pid 1, still get different ids. Host and pid are for people reading `lease_owner`.
    `space` names the boot and PID namespace the pid is valid in, so a restart can tell that
    a same-space owner is dead (see `owner_is_dead`); it is "-" where it cannot be known.
    """
    return f"{socket.gethostname()}:{os.getpid()}:{os.urandom(8).hex()}:{_pid_space()}"


def _pid_space() -> str:
    """Boot id and PID namespace of this process, hashed; "-" when the system hides them."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        return "-"
    return hashlib.sha256(f"{boot} {namespace}".encode()).hexdigest()[:12]


def owner_is_dead(owner: str | None) -> bool:
    """True only when `owner` ran in this very boot and PID namespace and its pid is gone.

    A pid says nothing across containers (or machines) that share a host name, so an owner from
    another PID space, or from an older version (no space recorded), is never declared dead:
    its lease must run out instead. A reused pid only makes us wait for the lease (safe).
    """
    if not owner:
        return False
    parts = owner.split(":")
    if len(parts) != 4 or not parts[1].isdigit():
        return False
    space = _pid_space()
    if space == "-" or parts[3] != space:
        return False
    pid = int(parts[1])
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


INSERT_STORY = insert(stories).returning(stories.c.id)
INSERT_DELIVERY = insert(deliveries).returning(deliveries.c.id)
INSERT_EVENT = insert(events)


def insert_delivery(
    conn: Connection, story_id: int, d: NewDelivery, now: float, *, seq: int = 0
) -> int:
    delivery_id = conn.execute(
        INSERT_DELIVERY,
        {
            "story_id": story_id,
            "platform": d.platform,
            "seq": seq,
            "status": d.status,
            "post": post_to_json(d.post),
            "reason": d.reason,
            "next_attempt_at": d.next_attempt_at,
            "created_at": now,
            "updated_at": now,
        },
    ).scalar_one()
    kind = "composed" if d.status == S.QUEUED else d.status
    detail = d.reason or ("manual re-post" if seq else None)
    record_event(
        conn,
        now,
        kind,
        story_id=story_id,
        delivery_id=delivery_id,
        platform=d.platform,
        detail=detail,
    )
    return int(delivery_id)


EVENT_FIELDS = ("story_id", "delivery_id", "platform", "feed_url", "detail")


def record_event(conn: Connection, now: float, kind: str, **fields: Any) -> None:
    """One audit row; always the same statement shape, so it is compiled once."""
    row = {name: fields.get(name) for name in EVENT_FIELDS}
    conn.execute(INSERT_EVENT, {"at": now, "kind": kind, **row})


def feed_row(r: Any) -> FeedRow:
    return FeedRow(
        id=r.id,
        url=r.url,
        current_url=r.current_url,
        etag=r.etag,
        last_modified=r.last_modified,
        initialized=r.initialized_at is not None,
        failures=r.failures,
        next_poll_at=r.next_poll_at,
        last_polled_at=r.last_polled_at,
        last_success_at=r.last_success_at,
        last_error=r.last_error,
        disabled=bool(r.disabled),
        body_digest=r.body_digest,
        failing_since=r.failing_since,
        lease_owner=r.lease_owner,
        lease_token=r.lease_token or 0,
    )


def delivery_row(r: Any) -> DeliveryRow:
    return DeliveryRow(
        id=r.id,
        story_id=r.story_id,
        platform=r.platform,
        seq=r.seq,
        status=r.status,
        post=post_from_json(r.post),
        attempts=r.attempts,
        failures=r.failures,
        next_attempt_at=r.next_attempt_at,
        first_attempt_at=r.first_attempt_at,
        sending_since=r.sending_since,
        uncertain=bool(r.uncertain),
        reason=r.reason,
        remote_id=r.remote_id,
        remote_url=r.remote_url,
        recovery=json.loads(r.recovery) if r.recovery else {},
        created_at=r.created_at,
        lease_owner=r.lease_owner,
        lease_token=r.lease_token or 0,
    )
