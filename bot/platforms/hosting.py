"""Where a fitted image is put so that Instagram's fetcher can download it, and taken down after.

Instagram takes no upload: it downloads `image_url` itself, and only a public JPEG within its
rules. A story image that is a PNG, too tall or too big therefore needs a fitted copy somewhere
public. Each host puts a copy and removes it by the handle it returned; the handle is a plain
string so the engine can keep it among a delivery's recovery handles across a crash.

* `FacebookPageHost` (IMAGE_HOST=facebook): an unpublished photo on the Page
  (`POST /{page-id}/photos` with `published=false`), whose CDN URL is `images[0].source` of
  `GET /{photo-id}?fields=images`; removed with `DELETE /{photo-id}`. Nothing else to run.
* `S3Host` (IMAGE_HOST=s3): an object in an S3-compatible bucket whose objects are public.
* `WebFaceHost` (IMAGE_HOST=web): uploaded to the bot's own web face, which keeps it in the store
  and serves it at PUBLIC_URL/media/{name}; the upload proves with a key derived from
  WEB_PASSWORD that it comes from this bot, and reads the copy back at its public address.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import httpx

from bot.errors import AuthError, PublishError, Transient
from bot.imaging.spec import FittedImage
from bot.platforms.graph import GraphApi
from bot.settings_values import S3Settings

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


def media_upload_key(password: str) -> str:
    """The bearer key of uploads to the web face's /media/: derived from WEB_PASSWORD, which both
    the worker and the web face know, so the password itself never travels."""
    return hmac.new(password.encode(), b"feedbot media upload", hashlib.sha256).hexdigest()


class WebFaceHost(ImageHost):
    """Copies kept by the bot's own web face and served at PUBLIC_URL/media/{name}."""

    name = "web"

    def __init__(self, public_url: str, key: str, http: httpx.Client, platform: str) -> None:
        self.base = public_url.rstrip("/")
        self.key = key
        self.http = http
        self.platform = platform

    def put(self, image: FittedImage) -> HostedImage:
        ext = image.filename.rsplit(".", 1)[-1].lower()
        name = f"{secrets.token_urlsafe(18)}.{ext}"
        url = f"{self.base}/media/{name}"
        self._call(
            "PUT", url, content=image.body, headers={"Content-Type": image.content_type}, auth=True
        )
        # Read it back where the platform will: a copy it cannot fetch would be a broken post.
        back = self._call("HEAD", url)
        if back.headers.get("content-length") not in (None, str(len(image.body))):
            self.discard(name)
            raise Transient(self.platform, f"PUBLIC_URL serves a different file at {url}")
        return HostedImage(url, name)

    def remove(self, handle: str) -> None:
        self._call("DELETE", f"{self.base}/media/{handle}", auth=True, missing_ok=True)

    def check(self) -> None:
        self._call("GET", f"{self.base}/media/", auth=True)

    def _call(
        self,
        method: str,
        url: str,
        *,
        auth: bool = False,
        missing_ok: bool = False,
        **kwargs: Any,
    ) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}))
        if auth:
            headers["Authorization"] = f"Bearer {self.key}"
        try:
            answer = self.http.request(method, url, headers=headers, **kwargs)
        except httpx.HTTPError as exc:
            raise Transient(
                self.platform,
                f"the web face at PUBLIC_URL ({self.base}) could not be reached for hosting "
                f"images: {type(exc).__name__}",
            ) from None
        if answer.status_code in (401, 403):
            raise AuthError(
                self.platform,
                f"the web face at PUBLIC_URL ({self.base}) refused the image upload: "
                "WEB_PASSWORD must be the same for the workers and the web face",
                variable="WEB_PASSWORD",
            )
        if answer.status_code == 404 and not missing_ok:
            raise AuthError(
                self.platform,
                f"PUBLIC_URL ({self.base}) does not serve the web face's /media/: run `run` "
                "with WEB_PORT or a `web` process reachable there",
                variable="PUBLIC_URL",
            )
        if answer.status_code >= 400 and not (missing_ok and answer.status_code == 404):
            raise Transient(
                self.platform,
                f"the web face at PUBLIC_URL answered {answer.status_code} to {method} {url}",
            )
        return answer
