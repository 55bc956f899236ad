"""Mastodon publisher: statuses with an Idempotency-Key kept with the delivery, media with alt text.

Exactly once: the attempt's Idempotency-Key (chosen once per delivery) is checkpointed with the
delivery before the status is sent. For an hour after a status succeeds, the instance answers a
request repeating its key with that same status, without posting again and without reading the
new body. So a retry reuses the key, and after a crash the look-up replays the request with it
while the hour lasts (exact: the original status comes back; had the first request never
arrived, the replay makes the post now, once, which is what the retry would have done); after
the hour, the account's recent statuses are read for the same link or text.

The image is uploaded with its alt text first. An instance still processing it answers 202:
its id is checkpointed and the attempt ends NotReady (no sleeping here, no failure counted);
the next attempt attaches it once ready.
"""

from __future__ import annotations

import html
import logging
import re
import time
import unicodedata
import uuid
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import httpx

from bot.errors import (
    AuthError,
    ConfigError,
    NotReady,
    PublishError,
    RateLimited,
    Rejected,
    Transient,
)
from bot.imaging.spec import ImageSpec
from bot.models import Account, Limits, Post, PublishResult
from bot.platforms.base import Checkpoint, Publisher, Wiring
from bot.platforms.images import ImageUnavailable, fetch_fitted, fit_bytes
from bot.platforms.mastodon.api import MastodonApi, field
from bot.platforms.mastodon.errors import PLATFORM
from bot.platforms.mastodon.instance import InstanceRules, length, parse_instance
from bot.platforms.mastodon.settings import (
    BASE_URL_VARIABLE,
    LIMITS,
    SECTION,
    TOKEN_VARIABLE,
    MastodonSettings,
)

log = logging.getLogger(__name__)

KEY_HOUR = timedelta(minutes=55)
"""How long after an attempt its key is trusted to be held: the instance keeps it 3,600 s
from the success; five minutes are left for clocks that disagree."""
FIND_PAGES = 10  # pages of 40 statuses, newest first
MEDIA_RECHECK = 30.0
"""Seconds before an image the instance is still processing is asked about again: most are
ready in a few seconds (video takes longer, but the bot posts images)."""
_TAGS = re.compile(r"<[^>]+>")
_BREAKS = re.compile(r"<br\s*/?>|</p>\s*<p>", re.IGNORECASE)
_HREFS = re.compile(r"""href=["']([^"']+)["']""", re.IGNORECASE)


def html_text(content: str) -> str:
    """A status's HTML as plain text: Mastodon shortens a link's visible text but keeps the
    whole URL in invisible spans, so dropping the tags gives the URL back whole."""
    return html.unescape(_TAGS.sub("", _BREAKS.sub("\n", content)))


def _norm(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).split())


def _same_url(a: str, b: str) -> bool:
    return a.rstrip("/").lower() == b.rstrip("/").lower()


class _InstanceLimits:
    """`limits` read on the class: Mastodon's defaults (the registry, a dry run without an
    instance); read on a publisher: its instance's own (`live_limits`), so the composer, which
    takes each publisher's limits, fits posts to the instance they go to."""

    def __get__(self, publisher: MastodonPublisher | None, owner: type | None = None) -> Limits:
        return LIMITS if publisher is None else publisher.live_limits()


class MastodonPublisher(Publisher):
    """Posts as the account whose token is MASTODON_ACCESS_TOKEN on MASTODON_BASE_URL."""

    name: ClassVar[str] = PLATFORM
    limits: ClassVar[Limits] = _InstanceLimits()  # type: ignore[assignment]
    credential_variables: ClassVar[tuple[str, ...]] = SECTION.auth_variables
    base_url_variable: ClassVar[str] = SECTION.base_url_variable

    def __init__(
        self,
        settings: MastodonSettings,
        *,
        http: httpx.Client | None = None,
        timeout: float = 20.0,
        clock: Callable[[], float] = time.time,
        new_key: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        self.base_url = settings.base_url
        self.visibility = settings.visibility
        self._own_http = http is None
        self.http = http or httpx.Client(timeout=timeout)
        self.clock = clock
        self.new_key = new_key
        self.api = MastodonApi(
            base_url=settings.base_url, token=settings.access_token, http=self.http, clock=clock
        )
        self._me: tuple[str, str, str] | None = None
        self._rules: InstanceRules | None = None
        self._live: Limits | None = None

    @classmethod
    def from_section(cls, section: MastodonSettings | None, wiring: Wiring) -> MastodonPublisher:
        if section is None:
            raise ConfigError(
                f"mastodon is listed in PLATFORMS but {BASE_URL_VARIABLE} and {TOKEN_VARIABLE} "
                "are not set",
                variable=BASE_URL_VARIABLE,
            )
        return cls(section, http=wiring.http, timeout=wiring.timeout)

    def close(self) -> None:
        if self._own_http:
            self.http.close()

    # --- the account and the instance -------------------------------------------------------

    def _account(self) -> tuple[str, str, str]:
        """(id, acct, profile URL) of the token's account, read once."""
        if self._me is None:
            me = self.api.call("GET", "/api/v1/accounts/verify_credentials")
            self._me = (field(me, "id"), field(me, "acct"), str(me.get("url") or ""))
        return self._me

    def verify(self) -> Account:
        self._me = None
        account_id, acct, _ = self._account()
        return Account(PLATFORM, account_id, f"@{acct}")

    def account_url(self) -> str | None:
        return self._account()[2] or f"{self.base_url}/@{self._account()[1]}"

    def rules(self) -> InstanceRules:
        """The instance's own limits (public, read once): v2, else v1 on older servers."""
        if self._rules is None:
            response = self.api.send("GET", "/api/v2/instance", auth=False)
            if response.status_code == 404:
                response = self.api.send("GET", "/api/v1/instance", auth=False)
            self._rules = parse_instance(self.api.answer("GET", "/api/v*/instance", response))
        return self._rules

    def live_limits(self) -> Limits:
        """The limits composition should follow: the instance's length and URL weight, read
        once. An instance that cannot be read now leaves Mastodon's defaults for this run
        (said once): composing for 500 is safe on nearly every instance, and a post the
        instance refuses is refused with its reason, never cut."""
        if self._live is None:
            try:
                self._live = _with_rules(LIMITS, self.rules())
            except PublishError as exc:
                log.warning(
                    "mastodon: the instance's limits could not be read (%s); composing for "
                    "Mastodon's defaults, %d characters with links at %d",
                    exc.message,
                    LIMITS.max_length,
                    LIMITS.url_weight,
                )
                self._live = LIMITS
        return self._live

    def access_lines(self) -> list[str]:
        """The instance's rules, and one read of the account's own statuses as `find` makes
        it past the key's hour (a token without read:statuses cannot confirm a lost answer)."""
        rules = self.rules()
        lines = [
            f"instance: {rules.max_characters} characters a post, links count "
            f"{rules.url_weight}" + (f" (Mastodon {rules.version})" if rules.version else "")
        ]
        account_id, _, _ = self._account()
        try:
            self.api.call("GET", f"/api/v1/accounts/{account_id}/statuses", params={"limit": 1})
        except PublishError as exc:
            lines.append(
                f"CANNOT read its own posts ({exc.message}): a post whose answer is lost over an "
                "hour ago cannot be confirmed; give the token read:statuses"
            )
        else:
            lines.append("reads its own posts: yes (a post whose answer is lost can be confirmed)")
        return lines

    # --- checks -----------------------------------------------------------------------------

    @classmethod
    def offline_checks(cls, post: Post, http: httpx.Client) -> None:
        """Without the instance at hand: Mastodon's default rules."""
        _check_text(post, InstanceRules())

    def preflight(self, post: Post, pending: int = 0) -> None:
        _check_text(post, self.rules())

    # --- publishing -------------------------------------------------------------------------

    def publish(
        self,
        post: Post,
        checkpoint: Checkpoint | None = None,
        recovery: Mapping[str, str] | None = None,
    ) -> PublishResult:
        rules = self.rules()
        _check_text(post, rules)
        recovery = dict(recovery or {})
        media_id = self._media(post, rules, recovery, checkpoint)
        key = recovery.get("idempotency_key") or self.new_key()
        sent_at = recovery.get("sent_at") or datetime.fromtimestamp(self.clock(), UTC).isoformat()
        handles = {"idempotency_key": key, "sent_at": sent_at}
        if media_id:
            handles["media_id"] = media_id
        if checkpoint is not None:  # kept before the one post, and the lease proven
            checkpoint(handles)
        return self._post_status(post, key, media_id)

    def _post_status(self, post: Post, key: str, media_id: str | None) -> PublishResult:
        form: dict[str, str | list[str]] = {"status": post.text, "visibility": self.visibility}
        if media_id:
            form["media_ids[]"] = [media_id]  # repeated per id, as the API takes a list
        status = self.api.call(
            "POST", "/api/v1/statuses", data=form, headers={"Idempotency-Key": key}
        )
        status_id = field(status, "id")
        return PublishResult(status_id, str(status.get("url") or "") or None)

    def _media(
        self,
        post: Post,
        rules: InstanceRules,
        recovery: dict[str, str],
        checkpoint: Checkpoint | None,
    ) -> str | None:
        """The picture's media id, ready to attach; None when the post goes without it."""
        if not post.image_url and post.image_data is None:
            return None
        kept = recovery.get("media_id")
        if kept:
            response = self.api.send("GET", f"/api/v1/media/{kept}")
            if response.status_code == 206:
                raise NotReady(
                    PLATFORM,
                    "the instance is still processing the image",
                    retry_after=MEDIA_RECHECK,
                )
            if response.status_code != 404:
                self.api.answer("GET", "/api/v1/media/:id", response)
                return kept
            # gone (unattached media are cleaned up): upload it again
        spec = ImageSpec("Mastodon", rules.image_types, rules.image_size_limit)
        try:
            if post.image_data is not None:
                image = fit_bytes(post.image_data, spec)
            else:
                image = fetch_fitted(self.http, post.image_url, spec)
            description = (post.alt_text or "")[: rules.description_limit]
            response = self.api.send(
                "POST",
                "/api/v2/media",
                files={"file": (image.filename, image.body, image.content_type)},
                data={"description": description} if description else {},
            )
            answer = self.api.answer("POST", "/api/v2/media", response)
            media_id = field(answer, "id")
        except ImageUnavailable as exc:
            log.warning("mastodon: posting without the image %s: %s", post.image_url, exc.reason)
            return None
        except (AuthError, RateLimited, Transient):
            raise
        except PublishError as exc:  # refused for this file alone: the words still go out
            log.warning("mastodon: posting without the image: upload refused: %s", exc)
            return None
        if response.status_code == 202 or not answer.get("url"):
            if checkpoint is not None:
                checkpoint({"media_id": media_id})
            raise NotReady(
                PLATFORM,
                "the instance is processing the image; it goes at the next try",
                retry_after=MEDIA_RECHECK,
            )
        return media_id

    # --- reconciling ------------------------------------------------------------------------

    def find(
        self, post: Post, since: datetime, recovery: Mapping[str, str] | None = None
    ) -> PublishResult | None:
        recovery = recovery or {}
        key = recovery.get("idempotency_key")
        sent_at = _parse_time(recovery.get("sent_at"))
        now = datetime.fromtimestamp(self.clock(), UTC)
        if key and sent_at is not None and now - sent_at < KEY_HOUR:
            return self._replay(post, key, recovery.get("media_id"))
        return self._search(post, since)

    def _replay(self, post: Post, key: str, media_id: str | None) -> PublishResult | None:
        """The request again with its key: within the hour the instance answers with the
        status the key made. A refusal (422) is never kept with a key, so it says the first
        request did not make a post either."""
        try:
            return self._post_status(post, key, media_id)
        except Rejected:
            return None

    def _search(self, post: Post, since: datetime) -> PublishResult | None:
        account_id, _, _ = self._account()
        wanted_text = _norm(post.text)
        links = [u for u in (post.link, post.story_url) if u]
        params: dict[str, str | int] = {
            "exclude_reblogs": "true",
            "exclude_replies": "true",
            "limit": 40,
        }
        for _ in range(FIND_PAGES):
            statuses = self.api.call(
                "GET", f"/api/v1/accounts/{account_id}/statuses", params=params
            )
            if not isinstance(statuses, list):
                raise Transient(PLATFORM, "the instance answered the statuses without a list")
            for status in statuses:
                if not isinstance(status, dict):
                    continue
                created = _parse_time(status.get("created_at"))
                if created is not None and created < since:
                    return None  # newest first: everything further is older still
                content = str(status.get("content") or "")
                hrefs = _HREFS.findall(content)
                if _norm(html_text(content)) == wanted_text or any(
                    _same_url(html.unescape(h), w) for h in hrefs for w in links
                ):
                    status_id = field(status, "id")
                    return PublishResult(status_id, str(status.get("url") or "") or None)
            if not statuses:
                return None
            params["max_id"] = field(statuses[-1], "id")
        return None


def _check_text(post: Post, rules: InstanceRules) -> None:
    size = length(post.text, rules)
    if size > rules.max_characters:
        raise Rejected(
            PLATFORM,
            f"text too long: {size} characters as the instance counts them (links "
            f"{rules.url_weight}), over its {rules.max_characters}",
        )
    if not post.text and not post.image_url and post.image_data is None:
        raise Rejected(PLATFORM, "nothing to post: no text and no image")


def _with_rules(limits: Limits, rules: InstanceRules) -> Limits:
    return replace(limits, max_length=rules.max_characters, url_weight=rules.url_weight)


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
