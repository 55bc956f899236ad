"""Hosting what Instagram must fetch: a fitted copy on the Page (unpublished) or in S3 (moto's
server on loopback), fetched by the fake Instagram for real, and removed after publishing."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Iterator
from dataclasses import replace

import httpx
import pytest
from PIL import Image

from bot.errors import Unsuitable
from bot.models import Post
from bot.platforms.instagram.adapter import InstagramPublisher
from bot.publishers import wiring
from bot.settings import Settings
from bot.settings_reach import ImageSettings, Reach, S3Settings
from tests.fakes.platform_server import FakePlatformServer, _multipart_fields


@pytest.fixture
def server() -> Iterator[FakePlatformServer]:
    with FakePlatformServer(ig_in_progress_reads=0) as fake:
        yield fake


def png(size: tuple[int, int]) -> bytes:
    out = io.BytesIO()
    Image.linear_gradient("L").resize(size).convert("RGBA").save(out, "PNG")
    return out.getvalue()


def with_images(settings: Settings, **images: object) -> Settings:
    return replace(settings, reach=Reach(images=ImageSettings(**images)))  # type: ignore[arg-type]


def publisher(settings: Settings, http: httpx.Client) -> InstagramPublisher:
    ig = InstagramPublisher.from_section(settings.section("instagram"), wiring(settings, http))
    ig.sleep = lambda seconds: None
    return ig


def assert_instagram_jpeg(body: bytes) -> None:
    image = Image.open(io.BytesIO(body))
    assert image.format == "JPEG" and image.mode == "RGB"
    assert 320 <= image.width <= 1440 and 0.8 <= image.width / image.height <= 1.91


def test_page_hosts_an_unpublished_copy_that_instagram_fetches_then_it_is_removed(
    server: FakePlatformServer,
) -> None:
    # facebook is NOT in PLATFORMS: the Page only hosts the image.
    settings = with_images(server.settings(platforms=("instagram",)), image_host="facebook")
    url = server.add_image("tall.png", png((300, 1500)), "image/png")  # PNG and 1:5: no good as is
    with httpx.Client(timeout=5) as http:
        ig = publisher(settings, http)
        handles: list[dict[str, str]] = []
        result = ig.publish(Post("instagram", "Tall ring", image_url=url), handles.append)
    upload = server.requests_to(f"*/{server.page_id}/photos", "POST")[0]
    assert _multipart_fields(upload)["published"] == "false"
    assert upload.headers["content-type"].startswith("multipart/form-data")
    (container,) = server.ig_containers.values()
    photo_id = handles[0]["hosted_image"]
    assert container["image_url"] == f"{server.base_url}/cdn/{photo_id}.jpg"  # images[0].source
    assert_instagram_jpeg(container["image_bytes"])  # what the fake Instagram fetched
    assert result.remote_id == server.ig_media[0]["id"]
    assert server.fb_posts == []  # nothing appeared on the Page
    assert server.fb_deleted == [photo_id] and server.fb_photos == {}  # removed after publishing
    assert server.requests_to(f"*/{photo_id}", "DELETE")


def test_a_failed_container_removes_its_copy_too(server: FakePlatformServer) -> None:
    settings = with_images(server.settings(platforms=("instagram",)), image_host="facebook")
    server.ig_next_outcome = ("ERROR", "Error: something went wrong")
    with httpx.Client(timeout=5) as http, pytest.raises(Exception, match="something went wrong"):
        publisher(settings, http).publish(Post("instagram", "x", image_url=server.image_url()))
    assert len(server.fb_deleted) == 1 and server.fb_photos == {}


def test_without_a_host_an_image_that_does_not_fit_is_skipped_naming_the_fix(
    server: FakePlatformServer,
) -> None:
    url = server.add_image("tall.png", png((300, 1500)), "image/png")
    with httpx.Client(timeout=5) as http, pytest.raises(Unsuitable, match="IMAGE_HOST"):
        publisher(server.settings(), http).publish(Post("instagram", "x", image_url=url))
    assert server.ig_containers == {}


def test_without_a_host_an_image_that_fits_is_used_where_it_is(server: FakePlatformServer) -> None:
    with httpx.Client(timeout=5) as http:
        publisher(server.settings(), http).publish(
            Post("instagram", "x", image_url=server.image_url())
        )
    (container,) = server.ig_containers.values()
    assert container["image_url"] == server.image_url()
    assert server.requests_to("*/photos") == []


def test_image_host_facebook_needs_the_page_credentials(server: FakePlatformServer) -> None:
    settings = with_images(server.settings(facebook=None), image_host="facebook")
    with httpx.Client() as http, pytest.raises(Exception, match="FACEBOOK_PAGE_ID"):
        InstagramPublisher.from_section(settings.section("instagram"), wiring(settings, http))


# --- S3 on moto's server ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        moto.stop()


def test_s3_hosts_the_copy_and_removes_it(server: FakePlatformServer, moto_url: str) -> None:
    import boto3

    bucket = f"feedbot-{uuid.uuid4().hex[:12]}"
    s3 = S3Settings(
        bucket=bucket,
        region="us-east-1",
        endpoint_url=moto_url,
        prefix="ig/",
        access_key_id="testing",
        secret_access_key="testing",
    )
    client = boto3.client(
        "s3",
        region_name="us-east-1",
        endpoint_url=moto_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    client.create_bucket(Bucket=bucket)
    public_read = {  # the bucket policy the README asks for: anyone may GET the objects
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket}/*",
            }
        ],
    }
    client.put_bucket_policy(Bucket=bucket, Policy=json.dumps(public_read))
    settings = with_images(server.settings(platforms=("instagram",)), image_host="s3", s3=s3)
    url = server.add_image("wide.png", png((3000, 600)), "image/png")
    with httpx.Client(timeout=5) as http:
        ig = publisher(settings, http)
        ig.verify()  # head_bucket: the credentials and the bucket work
        handles: list[dict[str, str]] = []
        ig.publish(Post("instagram", "Wide ring", image_url=url), handles.append)
    (container,) = server.ig_containers.values()
    key = handles[0]["hosted_image"]
    assert key.startswith("ig/") and container["image_url"] == f"{moto_url}/{bucket}/{key}"
    assert_instagram_jpeg(container["image_bytes"])  # fetched from moto over HTTP for real
    assert len(server.ig_media) == 1
    assert client.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0  # removed afterwards


def test_s3_missing_bucket_is_an_auth_error_naming_s3_bucket(
    server: FakePlatformServer, moto_url: str
) -> None:
    from bot.errors import AuthError

    s3 = S3Settings(
        bucket="no-such-bucket-here",
        region="us-east-1",
        endpoint_url=moto_url,
        access_key_id="testing",
        secret_access_key="testing",
    )
    settings = with_images(server.settings(platforms=("instagram",)), image_host="s3", s3=s3)
    with httpx.Client(timeout=5) as http, pytest.raises(AuthError) as caught:
        publisher(settings, http).publish(
            Post(
                "instagram", "x", image_url=server.add_image("t.png", png((400, 400)), "image/png")
            )
        )
    assert caught.value.variable == "S3_BUCKET"
    assert server.ig_containers == {}


def test_a_persons_file_is_fitted_and_hosted_for_instagram(server: FakePlatformServer) -> None:
    """A manual post's local picture (its bytes in the post) reaches Instagram through the host."""
    settings = with_images(server.settings(platforms=("instagram",)), image_host="facebook")
    post = Post("instagram", "From the show", image_url="media:abc", image_data=png((500, 2000)))
    with httpx.Client(timeout=5) as http:
        ig = publisher(settings, http)
        assert ig.limits.image_url_only is False and "image/png" in ig.limits.image_types
        ig.publish(post)
    (container,) = server.ig_containers.values()
    assert_instagram_jpeg(container["image_bytes"])
    with httpx.Client(timeout=5) as http, pytest.raises(Unsuitable, match="IMAGE_HOST"):
        publisher(server.settings(), http).publish(post)
