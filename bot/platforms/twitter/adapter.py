"""X (Twitter) publisher: tweepy for posts and reads, signed requests for the v2 media endpoints.

Every request, tweepy's included, goes through one `requests.Session` (session.XSession) that
sends it to TWITTER_API_BASE_URL and applies our timeouts; tweepy has no timeout or host setting
of its own. Errors are translated in `map_x_error` and nowhere else.
"""

from __future__ import annotations

import html
import logging
import time
import unicodedata
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

import httpx

from bot.errors import (
    ConfigError,
    PublishError,
    Rejected,
    Transient,
)
from bot.imaging.spec import ImageSpec
from bot.models import Account, Limits, Post, PublishResult
from bot.platforms.base import Checkpoint, Publisher, Wiring
from bot.platforms.images import ImageUnavailable, fetch_fitted, fit_bytes
from bot.platforms.twitter import PLATFORM as SPEC
from bot.platforms.twitter.settings import TwitterSettings
from bot.twitter_text_parts import extract_urls_with_indices
from bot.weighted_length import weighted_length

if TYPE_CHECKING:
    import requests
    import tweepy

log = logging.getLogger(__name__)

PLATFORM = SPEC.name
FIND_LOOKBACK = timedelta(minutes=1)
FIND_PAGES = 20  # pages of 100 posts read at most when looking for an interrupted post
X_SPEC = ImageSpec("X", ("image/jpeg", "image/png", "image/webp"), 5 * 1024 * 1024)
"""X: JPEG, PNG, WebP (GIF too, but a still GIF is better sent as PNG), at most 5 MB."""


def normalise_text(text: str) -> str:
    """Text as comparable across X's rewriting: links replaced, entities decoded, spaces folded."""
    text = unicodedata.normalize("NFC", html.unescape(text))
    pieces, last = [], 0
    for found in extract_urls_with_indices(text):
        start, end = found["indices"]
        pieces.append(text[last:start])
        pieces.append("\x00URL\x00")
        last = end
    pieces.append(text[last:])
    return " ".join("".join(pieces).split())


def _same_url(a: str, b: str) -> bool:
    return a.rstrip("/").lower() == b.rstrip("/").lower()


class TwitterPublisher(Publisher):
    """Posts with OAuth 1.0a user context; one HTTP attempt per call, no waiting."""

    name: ClassVar[str] = PLATFORM
    limits: ClassVar[Limits] = SPEC.limits
    credential_variables: ClassVar[tuple[str, ...]] = SPEC.section.auth_variables
    base_url_variable: ClassVar[str] = SPEC.section.base_url_variable

    def __init__(
        self,
        settings: TwitterSettings,
        *,
        http: httpx.Client | None = None,
        timeout: float = 20.0,
        clock: Callable[[], float] = time.time,
        proxies: Mapping[str, str] | None = None,
    ) -> None:
        # The client stack (tweepy, requests, oauthlib: about 40 ms of imports) loads with the
        # first publisher that can post, not for a dry run without credentials.
        import tweepy
        from requests_oauthlib import OAuth1

        from bot.platforms.twitter.session import XSession

        self.base_url = settings.base_url.rstrip("/")
        self._own_http = http is None
        self.http = http or httpx.Client(timeout=timeout)
        self.clock = clock
        self.client = tweepy.Client(
            consumer_key=settings.api_key.reveal(),
            consumer_secret=settings.api_secret.reveal(),
            access_token=settings.access_token.reveal(),
            access_token_secret=settings.access_token_secret.reveal(),
            wait_on_rate_limit=False,
        )
        self.session = XSession(self.base_url, timeout, proxies)
        self.client.session = self.session
        self._auth = OAuth1(
            settings.api_key.reveal(),
            client_secret=settings.api_secret.reveal(),
            resource_owner_key=settings.access_token.reveal(),
            resource_owner_secret=settings.access_token_secret.reveal(),
        )
        self._me: tuple[str, str] | None = None

    @classmethod
    def from_section(cls, section: TwitterSettings | None, wiring: Wiring) -> TwitterPublisher:
        if section is None:
            raise ConfigError(
                "X is listed in PLATFORMS but its credentials are not set; set "
                + ", ".join(cls.credential_variables),
                variable=cls.credential_variables[0],
            )
        return cls(section, http=wiring.http, timeout=wiring.timeout, proxies=wiring.proxies)

    def close(self) -> None:
        self.session.close()
        if self._own_http:
            self.http.close()

    def _call(self, action: Callable[[], Any]) -> Any:
        import requests
        import tweepy

        from bot.platforms.twitter.errors import map_x_error

        try:
            return action()
        except (
            tweepy.errors.TweepyException,
            requests.exceptions.RequestException,
            ValueError,
            KeyError,
            TypeError,
            AttributeError,
        ) as exc:
            raise map_x_error(exc, now=self.clock()) from None

    def _account(self) -> tuple[str, str]:
        if self._me is None:
            data = self._call(lambda: self.client.get_me(user_auth=True).data)
            self._me = self._call(lambda: (str(data.id), str(data.username)))
        return self._me

    def verify(self) -> Account:
        self._me = None
        user_id, username = self._account()
        return Account(PLATFORM, user_id, f"@{username}")

    def preflight(self, post: Post, pending: int = 0) -> None:
        self.offline_checks(post, self.http)

    @classmethod
    def offline_checks(cls, post: Post, http: httpx.Client) -> None:
        """X takes a post whose image cannot be used (it goes without it): only the text can
        stop it."""
        cls._check_text(post)

    @classmethod
    def _check_text(cls, post: Post) -> None:
        length = weighted_length(post.text)
        if length > cls.limits.max_length:
            raise Rejected(
                PLATFORM,
                f"text too long: weighted length {length}, over X's {cls.limits.max_length}",
            )

    def access_lines(self) -> list[str]:
        """One timeline read, as `find` makes it: X answers 403 (client-not-enrolled) to plans
        that cannot read their own posts, and then a post whose answer was lost cannot be
        confirmed: it waits as unconfirmed until a look-up works or a person runs `resolve`."""
        user_id, _ = self._account()
        try:
            self._call(
                lambda: self.client.get_users_tweets(
                    user_id, max_results=5, exclude=["retweets"], user_auth=True
                )
            )
        except PublishError as exc:
            return [
                f"CANNOT read its own posts ({exc.message}): a post whose answer is lost cannot "
                "be confirmed and waits for `resolve`; a plan with read access fixes it"
            ]
        return ["reads its own posts: yes (a post whose answer is lost can be confirmed)"]

    def account_url(self) -> str | None:
        return f"https://x.com/{self._account()[1]}"

    def publish(
        self,
        post: Post,
        checkpoint: Checkpoint | None = None,
        recovery: Mapping[str, str] | None = None,
    ) -> PublishResult:
        self._check_text(post)
        _, username = self._account()  # before posting: the URL needs it, and it is cached
        media_ids = self._upload_image(post)
        if checkpoint is not None:  # the engine proves its lease right before the one post
            checkpoint({})
        tweet_id = self._call(
            lambda: str(
                self.client.create_tweet(
                    text=post.text, media_ids=media_ids or None, user_auth=True
                ).data["id"]
            )
        )
        return PublishResult(tweet_id, f"https://x.com/{username}/status/{tweet_id}")

    def _upload_image(self, post: Post) -> list[str]:
        """Upload the story image; on any failure post without it (a warning, not an error)."""
        if not post.image_url:
            return []
        try:
            if post.image_data is not None:  # a person's own file: fitted the same way
                image = fit_bytes(post.image_data, X_SPEC)
            else:
                image = fetch_fitted(self.http, post.image_url, X_SPEC)
            media_id = self._call(
                lambda: self._upload(image.body, image.filename, image.content_type)
            )
        except ImageUnavailable as exc:
            log.warning("X: posting without the image %s: %s", post.image_url, exc.reason)
            return []
        except PublishError as exc:
            log.warning("X: posting without the image %s: upload failed: %s", post.image_url, exc)
            return []
        if post.alt_text:
            try:
                self._call(lambda: self._set_alt_text(media_id, post.alt_text or ""))
            except PublishError as exc:  # the image is still worth posting without alt text
                log.warning("X: the image goes out without alt text: %s", exc)
        return [media_id]

    def _upload(self, body: bytes, filename: str, content_type: str) -> str:
        response = self.session.post(
            f"{self.base_url}/2/media/upload",
            data={"media_category": "tweet_image"},
            files={"media": (filename, body, content_type)},
            auth=self._auth,
        )
        _raise_for_status(response)
        return str(response.json()["data"]["id"])

    def _set_alt_text(self, media_id: str, alt_text: str) -> None:
        response = self.session.post(
            f"{self.base_url}/2/media/metadata",
            json={"id": media_id, "metadata": {"alt_text": {"text": alt_text[:1000]}}},
            auth=self._auth,
        )
        _raise_for_status(response)

    def find(
        self, post: Post, since: datetime, recovery: Mapping[str, str] | None = None
    ) -> PublishResult | None:
        user_id, username = self._account()
        token: str | None = None
        for _ in range(FIND_PAGES):  # a busy account may have posted more than one page since
            page = {"pagination_token": token} if token else {}
            response = self._call(
                lambda page=page: self.client.get_users_tweets(
                    user_id,
                    start_time=since - FIND_LOOKBACK,
                    exclude=["retweets"],
                    tweet_fields=["created_at", "entities"],
                    max_results=100,
                    user_auth=True,
                    **page,
                )
            )
            if response.data is None and "result_count" not in response.meta:
                raise Transient(PLATFORM, "the X API answered the timeline without data or meta")
            tweets = response.data or []
            found = self._call(lambda tweets=tweets: _match(tweets, post, username))
            token = response.meta.get("next_token")
            if found is not None or not token:
                return found
        return None


def _match(tweets: list[tweepy.Tweet], post: Post, username: str) -> PublishResult | None:
    """Our post among recent tweets: by its link (X keeps it as expanded_url) or by its text."""
    wanted_urls = [u for u in (post.story_url, post.link, post.parts.get("url")) if u]
    wanted_text = normalise_text(post.text)
    for tweet in tweets:
        expanded = [u.get("expanded_url", "") for u in (tweet.entities or {}).get("urls", [])]
        by_url = any(_same_url(e, w) for e in expanded for w in wanted_urls)
        if by_url or normalise_text(tweet.text) == wanted_text:
            tweet_id = str(tweet.id)
            return PublishResult(tweet_id, f"https://x.com/{username}/status/{tweet_id}")
    return None


def _raise_for_status(response: requests.Response) -> None:
    """Our own v2 media calls fail the same way tweepy's do, so one table maps both."""
    import requests

    if response.status_code >= 400:
        raise requests.exceptions.HTTPError(response=response)
