"""Bluesky publisher: one post record per delivery, written under a record key we choose.

Exactly once, by construction: before the write, the attempt's record key (a TID) and its
`createdAt` are checkpointed with the delivery. The write is a `putRecord` with `swapRecord:
null` ("only if absent"): a retry sends the same record to the same key, which the PDS answers
with the existing uri and cid and no second post; if the retry's record differs (a thumbnail
fetched differently), the taken key answers `InvalidSwap`, which also means "already posted".
After a crash, `getRecord` by that key says exactly whether the post exists.

A post carries its links, mentions and tags as facets (a URL without one is not even
clickable), and the story's card as an external embed with its thumbnail uploaded as a blob:
Bluesky never builds link cards itself.
"""

from __future__ import annotations

import logging
import random
import time
import unicodedata
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx
import regex

from bot.errors import AuthError, ConfigError, PublishError, RateLimited, Rejected, Transient
from bot.imaging.spec import ImageSpec
from bot.models import Account, Limits, Post, PublishResult
from bot.platforms.base import Checkpoint, Publisher, Wiring
from bot.platforms.bluesky.errors import PLATFORM, error_name
from bot.platforms.bluesky.richtext import LINK, facets, mentioned_handles, spans
from bot.platforms.bluesky.settings import (
    HANDLE_VARIABLE,
    LIMITS,
    PASSWORD_VARIABLE,
    SECTION,
    BlueskySettings,
)
from bot.platforms.bluesky.tid import is_tid, new_tid
from bot.platforms.bluesky.xrpc import Xrpc, field
from bot.platforms.images import ImageUnavailable, fetch_fitted, fit_bytes
from bot.platforms.state import KeyValue

log = logging.getLogger(__name__)

COLLECTION = "app.bsky.feed.post"
THUMB_SPEC = ImageSpec("Bluesky", ("image/jpeg", "image/png"), 1_000_000, 2000, 2000)
"""A card's thumbnail: at most 1,000,000 bytes (app.bsky.embed.external)."""
MAX_BYTES = 3000
MAX_GRAPHEMES = 300
MAX_CARD_TITLE = 300
MAX_CARD_DESCRIPTION = 1000
FIND_PAGES = 10  # listRecords pages of 100, newest first: a busy day's posts at most
_GRAPHEME = regex.compile(r"\X")


def graphemes(text: str) -> int:
    """What Bluesky counts against 300: extended grapheme clusters (Unicode UAX #29)."""
    return len(_GRAPHEME.findall(text))


def text_problem(text: str) -> str | None:
    """Why the PDS would refuse this text (300 graphemes and 3,000 UTF-8 bytes), or None."""
    count = graphemes(text)
    if count > MAX_GRAPHEMES:
        return f"text too long: {count} graphemes, over Bluesky's {MAX_GRAPHEMES}"
    size = len(text.encode("utf-8"))
    if size > MAX_BYTES:
        return f"text too long: {size} UTF-8 bytes, over Bluesky's {MAX_BYTES}"
    return None


def created_at(epoch: float) -> str:
    """`createdAt` as the app writes it: UTC, milliseconds, a Z."""
    moment = datetime.fromtimestamp(epoch, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _norm(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).split())


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


class BlueskyPublisher(Publisher):
    """Posts to the account of BLUESKY_HANDLE with an app password, over plain httpx."""

    name: ClassVar[str] = PLATFORM
    limits: ClassVar[Limits] = LIMITS
    credential_variables: ClassVar[tuple[str, ...]] = SECTION.auth_variables
    base_url_variable: ClassVar[str] = SECTION.base_url_variable

    def __init__(
        self,
        settings: BlueskySettings,
        *,
        http: httpx.Client | None = None,
        timeout: float = 20.0,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        state: KeyValue | None = None,
    ) -> None:
        self._own_http = http is None
        self.http = http or httpx.Client(timeout=timeout)
        self.clock = clock
        self.rng = rng
        self.xrpc = Xrpc(
            service=settings.service,
            identifier=settings.handle,
            password=settings.app_password,
            http=self.http,
            clock=clock,
            state=state,
        )
        self._dids: dict[str, str | None] = {}

    @classmethod
    def from_section(cls, section: BlueskySettings | None, wiring: Wiring) -> BlueskyPublisher:
        if section is None:
            raise ConfigError(
                f"bluesky is listed in PLATFORMS but {HANDLE_VARIABLE} and {PASSWORD_VARIABLE} "
                "are not set",
                variable=PASSWORD_VARIABLE,
            )
        return cls(section, http=wiring.http, timeout=wiring.timeout, state=wiring.state)

    def close(self) -> None:
        if self._own_http:
            self.http.close()

    # --- the account ------------------------------------------------------------------------

    def verify(self) -> Account:
        """getSession on the kept session (renewed, or a new log-in, when refused): revoking
        the app password revokes its sessions, so this proves the credentials without spending
        one of the account's few daily log-ins."""
        answer = self.xrpc.query("com.atproto.server.getSession", {})
        return Account(PLATFORM, field(answer, "did"), f"@{field(answer, 'handle')}")

    def access_lines(self) -> list[str]:
        """Where the account's posts are written (its PDS, from its DID document)."""
        session = self.xrpc.current()
        return [f"posts go to the account's PDS at {session.pds} (DID {session.did})"]

    def account_url(self) -> str | None:
        session = self.xrpc.current()
        return f"https://bsky.app/profile/{session.handle}"

    def _post_url(self, did: str, rkey: str) -> str:
        return f"https://bsky.app/profile/{did}/post/{rkey}"

    # --- checks -----------------------------------------------------------------------------

    @classmethod
    def offline_checks(cls, post: Post, http: httpx.Client) -> None:
        """The text is all that can stop a post (a card without its picture still goes)."""
        problem = text_problem(post.text)
        if problem:
            raise Rejected(PLATFORM, problem)
        if not post.text and not cls._card_url(post):
            raise Rejected(PLATFORM, "nothing to post: no text and no link")

    def preflight(self, post: Post, pending: int = 0) -> None:
        self.offline_checks(post, self.http)

    # --- publishing -------------------------------------------------------------------------

    def publish(
        self,
        post: Post,
        checkpoint: Checkpoint | None = None,
        recovery: Mapping[str, str] | None = None,
    ) -> PublishResult:
        self.offline_checks(post, self.http)
        session = self.xrpc.current()
        recovery = recovery or {}
        rkey = recovery.get("rkey") or ""
        stamp = recovery.get("created_at") or ""
        if not is_tid(rkey) or not stamp:  # a first attempt: choose the key, once
            rkey, stamp = new_tid(self.clock(), self.rng), created_at(self.clock())
        record: dict[str, Any] = {"$type": COLLECTION, "text": post.text, "createdAt": stamp}
        found_facets = facets(post.text, self._resolve(post.text, session.handle, session.did))
        if found_facets:
            record["facets"] = found_facets
        embed = self._embed(post)
        if embed is not None:
            record["embed"] = embed
        if checkpoint is not None:  # kept before the one write, and the lease proven
            checkpoint({"rkey": rkey, "created_at": stamp})
        body = {
            "repo": session.did,
            "collection": COLLECTION,
            "rkey": rkey,
            "validate": True,
            "record": record,
            "swapRecord": None,
        }
        try:
            answer = self.xrpc.procedure("com.atproto.repo.putRecord", body)
        except Rejected as exc:
            if exc.code != "400 InvalidSwap":
                raise
            # The key is taken: an earlier attempt of this delivery went out (its record
            # differs in some byte, e.g. the thumbnail). That post is the one.
            found = self._get(rkey)
            if found is None:
                raise
            return found
        field(answer, "cid")
        return PublishResult(field(answer, "uri"), self._post_url(session.did, rkey))

    def _resolve(self, text: str, own_handle: str, own_did: str) -> dict[str, str]:
        """handle -> DID for every live @handle of the text. An unknown handle gets no facet
        (Bluesky's advice: keep the text, tag nobody); a failed look-up fails the attempt."""
        dids: dict[str, str] = {}
        for handle in mentioned_handles(text):
            if handle == own_handle.lower():
                dids[handle] = own_did
                continue
            if handle not in self._dids:
                response = self.xrpc.raw_query(
                    "com.atproto.identity.resolveHandle", {"handle": handle}
                )
                if response.status_code == 400 and error_name(_json(response)) in (
                    "InvalidRequest",
                    "HandleNotFound",
                ):
                    log.warning("bluesky: @%s did not resolve: written without a mention", handle)
                    self._dids[handle] = None
                else:
                    answer = self.xrpc.answer("com.atproto.identity.resolveHandle", response)
                    self._dids[handle] = field(answer, "did")
            did = self._dids[handle]
            if did:
                dids[handle] = did
        return dids

    @staticmethod
    def _card_url(post: Post) -> str | None:
        """The story's link: beside the text (a link card), else the first link in it."""
        if post.link:
            return post.link
        links = [s.value for s in spans(post.text) if s.kind == LINK]
        return links[0] if links else post.story_url

    def _embed(self, post: Post) -> dict[str, Any] | None:
        """The story's card (title, description, thumbnail): Bluesky never builds one."""
        url = self._card_url(post)
        if not url:
            return None
        title = post.alt_text or post.parts.get("title") or ""
        external: dict[str, Any] = {
            "uri": url,
            "title": _clip(title, MAX_CARD_TITLE),
            "description": _clip(post.parts.get("summary") or "", MAX_CARD_DESCRIPTION),
        }
        thumb = self._thumb(post)
        if thumb is not None:
            external["thumb"] = thumb
        return {"$type": "app.bsky.embed.external", "external": external}

    def _thumb(self, post: Post) -> dict[str, Any] | None:
        """The card's picture uploaded as a blob; None (a card without it) when it cannot be
        used or the upload fails for this post alone."""
        if not post.image_url and post.image_data is None:
            return None
        try:
            if post.image_data is not None:
                image = fit_bytes(post.image_data, THUMB_SPEC)
            else:
                image = fetch_fitted(self.http, post.image_url, THUMB_SPEC)
            answer = self.xrpc.procedure(
                "com.atproto.repo.uploadBlob", image.body, image.content_type
            )
        except ImageUnavailable as exc:
            log.warning("bluesky: the card goes without its picture: %s", exc.reason)
            return None
        except (AuthError, RateLimited):
            raise
        except PublishError as exc:
            log.warning("bluesky: the card goes without its picture: upload failed: %s", exc)
            return None
        blob = answer.get("blob")
        if not isinstance(blob, dict) or not isinstance(blob.get("ref"), dict):
            log.warning("bluesky: the card goes without its picture: no blob in the answer")
            return None
        return blob

    # --- reconciling ------------------------------------------------------------------------

    def _get(self, rkey: str) -> PublishResult | None:
        session = self.xrpc.current()
        params = {"repo": session.did, "collection": COLLECTION, "rkey": rkey}
        response = self.xrpc.raw_query("com.atproto.repo.getRecord", params)
        if response.status_code == 400 and error_name(_json(response)) == "RecordNotFound":
            return None
        answer = self.xrpc.answer("com.atproto.repo.getRecord", response)
        return PublishResult(field(answer, "uri"), self._post_url(session.did, rkey))

    def find(
        self, post: Post, since: datetime, recovery: Mapping[str, str] | None = None
    ) -> PublishResult | None:
        """By the record key the attempt kept: exact. Without one (no attempt reached the
        write), the account's recent posts are read for the same text or card link."""
        rkey = (recovery or {}).get("rkey", "")
        if is_tid(rkey):
            return self._get(rkey)
        return self._search(post, since)

    def _search(self, post: Post, since: datetime) -> PublishResult | None:
        session = self.xrpc.current()
        wanted_text = _norm(post.text)
        wanted_url = self._card_url(post)
        cursor: str | None = None
        for _ in range(FIND_PAGES):
            params: dict[str, str | int] = {
                "repo": session.did,
                "collection": COLLECTION,
                "limit": 100,
            }
            if cursor:
                params["cursor"] = cursor
            answer = self.xrpc.query("com.atproto.repo.listRecords", params)
            records = answer.get("records")
            if not isinstance(records, list):
                raise Transient(PLATFORM, "listRecords answered without 'records'")
            for item in records:
                value = item.get("value") if isinstance(item, dict) else None
                if not isinstance(value, dict):
                    continue
                if _older(value.get("createdAt"), since):
                    return None  # newest first: everything further is older still
                card = ((value.get("embed") or {}).get("external") or {}).get("uri")
                if _norm(str(value.get("text", ""))) == wanted_text or (
                    wanted_url and card == wanted_url
                ):
                    rkey = str(item.get("uri", "")).rsplit("/", 1)[-1]
                    return PublishResult(field(item, "uri"), self._post_url(session.did, rkey))
            cursor = answer.get("cursor")
            if not cursor or not records:
                return None
        return None


def _older(stamp: Any, since: datetime) -> bool:
    try:
        moment = datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
    except ValueError:
        return False
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment < since


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
