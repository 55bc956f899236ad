"""Where a fitted image is put so that Instagram's fetcher can download it, and taken down after.

Instagram takes no upload: it downloads `image_url` itself, and only a public JPEG within its
rules. A story image that is a PNG, too tall or too big therefore needs a fitted copy somewhere
public. Each host puts a copy and removes it by the handle it returned; the handle is a plain
string so the engine can keep it among a delivery's recovery handles across a crash.

* `FacebookPageHost` (IMAGE_HOST=facebook): an unpublished photo on the Page
  (`POST /{page-id}/photos` with `published=false`), whose CDN URL is `images[0].source` of
  `GET /{photo-id}?fields=images`; removed with `DELETE /{photo-id}`. Nothing else to run.
* `S3Host` (IMAGE_HOST=s3): an object in an S3-compatible bucket whose objects are public.
* IMAGE_HOST=web (the web face's /media/ under PUBLIC_URL) needs the web face, which this
  version does not have yet; `build_image_host` says so at start.
"""

from __future__ import annotations

import logging
import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import httpx

from bot.errors import AuthError, ConfigError, PublishError, Transient
from bot.imaging.fit import FittedImage
from bot.platforms.graph import GraphApi
from bot.settings import Settings
from bot.settings_reach import S3Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class HostedImage:
    url: str
    handle: str


class ImageHost(ABC):
    """Puts a fitted image where anyone can GET it, and takes it down again."""

    name: str

    @abstractmethod
    def put(self, image: FittedImage) -> HostedImage:
        """Upload the image; raises PublishError (Transient when trying later may help)."""

    @abstractmethod
    def remove(self, handle: str) -> None:
        """Take the copy down; raises PublishError. Callers treat a failure as a warning."""

    def check(self) -> None:  # noqa: B027 - optional: hosts with nothing cheap to check skip it
        """One cheap call that proves the credentials work (used by `check` and to resume)."""

    def discard(self, handle: str | None) -> None:
        """remove(), never raising: a copy left behind costs storage, not a post."""
        if not handle:
            return
        try:
            self.remove(handle)
        except PublishError as exc:
            log.warning("a hosted image copy could not be removed (%s): %s", handle, exc.message)


class FacebookPageHost(ImageHost):
    """Unpublished photos on the Page: they never show on the Page and Meta serves them."""

    name = "facebook"

    def __init__(self, graph: GraphApi, page_id: str) -> None:
        self.graph = graph
        self.page_id = page_id

    def put(self, image: FittedImage) -> HostedImage:
        answer = self.graph.upload(
            f"{self.page_id}/photos",
            {"published": "false"},
            "source",
            (image.filename, image.body, image.content_type),
        )
        photo_id = self.graph.field(answer, "id")
        try:
            info = self.graph.get(photo_id, {"fields": "images"})
            images = info.get("images")
            source = images[0].get("source") if isinstance(images, list) and images else None
            if not source:
                raise Transient(self.graph.platform, "the Page photo has no images[0].source")
        except PublishError:
            self.discard(photo_id)
            raise
        return HostedImage(str(source), photo_id)

    def remove(self, handle: str) -> None:
        self.graph.delete(handle)

    def check(self) -> None:
        self.graph.get(self.page_id, {"fields": "id"})


class S3Host(ImageHost):
    """Objects in a bucket (AWS S3 or any S3-compatible store) that serves them publicly."""

    name = "s3"

    def __init__(self, settings: S3Settings, platform: str, client: Any = None) -> None:
        import boto3
        from botocore.config import Config

        self.settings = settings
        self.platform = platform
        self.client = client or boto3.client(
            "s3",
            region_name=settings.region,
            endpoint_url=settings.endpoint_url,
            aws_access_key_id=settings.access_key_id,
            aws_secret_access_key=settings.secret_access_key,
            config=Config(retries={"max_attempts": 2}, connect_timeout=10, read_timeout=20),
        )

    def url_for(self, key: str) -> str:
        s = self.settings
        if s.public_url:
            return f"{s.public_url.rstrip('/')}/{key}"
        if s.endpoint_url:
            return f"{s.endpoint_url.rstrip('/')}/{s.bucket}/{key}"
        region = s.region or "us-east-1"
        return f"https://{s.bucket}.s3.{region}.amazonaws.com/{key}"

    def put(self, image: FittedImage) -> HostedImage:
        ext = image.filename.rsplit(".", 1)[-1]
        key = f"{self.settings.prefix}{uuid.uuid4().hex}.{ext}"
        self._call(
            lambda: self.client.put_object(
                Bucket=self.settings.bucket,
                Key=key,
                Body=image.body,
                ContentType=image.content_type,
                CacheControl="no-store",
            )
        )
        return HostedImage(self.url_for(key), key)

    def remove(self, handle: str) -> None:
        self._call(lambda: self.client.delete_object(Bucket=self.settings.bucket, Key=handle))

    def check(self) -> None:
        self._call(lambda: self.client.head_bucket(Bucket=self.settings.bucket))

    def _call(self, action: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

        try:
            return action()
        except NoCredentialsError:
            raise AuthError(
                self.platform,
                "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
                variable="AWS_ACCESS_KEY_ID",
            ) from None
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = str(error.get("Code", ""))
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
            message = f"S3 {code or status}: {error.get('Message') or exc}"
            if code in {"NoSuchBucket", "404"}:
                raise AuthError(self.platform, message, variable="S3_BUCKET") from None
            if status in {401, 403} or code in {"InvalidAccessKeyId", "SignatureDoesNotMatch"}:
                raise AuthError(self.platform, message, variable="AWS_ACCESS_KEY_ID") from None
            raise Transient(self.platform, message) from None
        except BotoCoreError as exc:
            raise Transient(self.platform, f"S3 could not be reached: {exc}") from None


def build_image_host(
    settings: Settings, platform: str, http: httpx.Client, timeout: float
) -> ImageHost | None:
    """The IMAGE_HOST the settings name, for `platform`'s publisher; None without one."""
    kind = settings.reach.images.image_host
    if kind is None:
        return None
    if kind == "facebook":
        fb = settings.facebook
        if fb is None:
            raise ConfigError(
                "IMAGE_HOST=facebook hosts images on the Page: set FACEBOOK_PAGE_ID and "
                "FACEBOOK_PAGE_ACCESS_TOKEN (facebook need not be in PLATFORMS)",
                "FACEBOOK_PAGE_ID",
            )
        graph = GraphApi(
            platform=platform,
            base_url=fb.graph_base_url,
            version=fb.graph_version,
            token=fb.page_access_token,
            variable="FACEBOOK_PAGE_ACCESS_TOKEN",
            http=http,
        )
        return FacebookPageHost(graph, fb.page_id)
    if kind == "s3":
        assert settings.reach.images.s3 is not None
        return S3Host(settings.reach.images.s3, platform)
    raise ConfigError(
        "IMAGE_HOST=web serves images from the web face's /media/, which this version does "
        "not have yet; use IMAGE_HOST=facebook or IMAGE_HOST=s3",
        "IMAGE_HOST",
    )
