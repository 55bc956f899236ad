"""IMAGE_HOST=web: the worker uploads the fitted copy to the bot's own web face, Instagram fetches
it from PUBLIC_URL/media/ over HTTP, and it is removed after publishing; uploads need the key
derived from WEB_PASSWORD; copies left behind are swept after a day."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import httpx
import pytest
from PIL import Image

from bot.app import App
from bot.errors import AuthError, ConfigError
from bot.models import Post
from bot.platforms.hosting import media_upload_key
from bot.platforms.instagram.adapter import InstagramPublisher
from bot.publishers import wiring
from bot.settings import Settings
from bot.settings_reach import ImageSettings, Reach
from bot.settings_values import Secret
from bot.store.hosted import HOSTED_FOR
from bot.web.server import BackgroundServer, make_server
from bot.web.service import context_for
from tests.botenv import BASE_TIME
from tests.conftest import FakeClock
from tests.fakes.platform_server import FakePlatformServer
from tests.test_web_browser import free_port
from tests.webkit import PASSWORD, make_app


@dataclass
class WebFace:
    app: App
    url: str
    clock: FakeClock


@pytest.fixture
def web_face(tmp_path: Path) -> Iterator[WebFace]:
    clock = FakeClock(BASE_TIME.timestamp())
    for _ in range(5):  # a free port can be taken by another test before we bind it
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        app = make_app(tmp_path, clock, PUBLIC_URL=url)
        try:
            server = BackgroundServer(make_server(context_for(app), port=port))
            break
        except ConfigError:
            app.close()
    else:
        pytest.fail("no free port in 5 tries")
    server.start()
    try:
        yield WebFace(app, url, clock)
    finally:
        server.stop()
        app.close()


@pytest.fixture
def server() -> Iterator[FakePlatformServer]:
    with FakePlatformServer(ig_in_progress_reads=0) as fake:
        yield fake


def png(size: tuple[int, int]) -> bytes:
    out = io.BytesIO()
    Image.linear_gradient("L").resize(size).convert("RGBA").save(out, "PNG")
    return out.getvalue()


def hosted_on_web(server: FakePlatformServer, url: str, password: str = PASSWORD) -> Settings:
    settings = server.settings(platforms=("instagram",))
    images = ImageSettings(image_host="web", public_url=url)  # type: ignore[arg-type]
    web = replace(settings.web, password=Secret(password), public_url=url)
    return replace(settings, reach=Reach(images=images), web=web)


def publisher(settings: Settings, http: httpx.Client) -> InstagramPublisher:
    ig = InstagramPublisher.from_section(settings.section("instagram"), wiring(settings, http))
    ig.sleep = lambda seconds: None
    return ig


def test_the_web_face_hosts_the_copy_instagram_fetches_then_it_is_removed(
    server: FakePlatformServer, web_face: WebFace
) -> None:
    settings = hosted_on_web(server, web_face.url)
    url = server.add_image("tall.png", png((300, 1500)), "image/png")  # PNG and 1:5: no good as is
    with httpx.Client(timeout=5) as http:
        ig = publisher(settings, http)
        ig.verify()  # the check: our web face, and the key matches
        handles: list[dict[str, str]] = []
        result = ig.publish(Post("instagram", "Tall ring", image_url=url), handles.append)
        name = handles[0]["hosted_image"]
        (container,) = server.ig_containers.values()
        assert container["image_url"] == f"{web_face.url}/media/{name}"
        image = Image.open(io.BytesIO(container["image_bytes"]))  # fetched over HTTP for real
        assert image.format == "JPEG" and 0.8 <= image.width / image.height <= 1.91
        assert result.remote_id == server.ig_media[0]["id"]
        assert http.get(f"{web_face.url}/media/{name}").status_code == 404  # removed after
    assert web_face.app.store.hosted.get(name, web_face.clock()) is None


def test_uploads_need_the_key_and_only_images_under_random_names(web_face: WebFace) -> None:
    key = media_upload_key(PASSWORD)
    name = "A" * 24 + ".jpg"
    put = f"{web_face.url}/media/{name}"
    jpeg = {"Content-Type": "image/jpeg"}
    with httpx.Client(timeout=5) as http:
        assert http.put(put, content=b"x", headers=jpeg).status_code == 401
        wrong = {**jpeg, "Authorization": "Bearer " + media_upload_key("another-password")}
        assert http.put(put, content=b"x", headers=wrong).status_code == 401
        assert (
            http.put(put, content=b"x", headers={**jpeg, "Authorization": PASSWORD}).status_code
            == 401
        )
        ok = {**jpeg, "Authorization": f"Bearer {key}"}
        html = {"Content-Type": "text/html", "Authorization": f"Bearer {key}"}
        assert http.put(put, content=b"<script>", headers=html).status_code == 400
        short = f"{web_face.url}/media/abc.jpg"  # a guessable name
        assert http.put(short, content=b"x", headers=ok).status_code == 400
        huge = b"\0" * (16 * 1024 * 1024 + 1)
        assert http.put(put, content=huge, headers=ok).status_code == 413
        assert http.put(put, content=b"jpeg bytes", headers=ok).status_code == 201
        served = http.get(put)  # no login: the platform fetches it
        assert served.status_code == 200 and served.content == b"jpeg bytes"
        assert served.headers["content-type"] == "image/jpeg"
        assert http.delete(put).status_code == 401  # removing needs the key too
        assert http.delete(put, headers=ok).status_code == 204
        assert http.get(put).status_code == 404
        assert http.get(f"{web_face.url}/media/").status_code == 401


def test_copies_left_behind_are_swept_after_a_day(web_face: WebFace) -> None:
    store, clock = web_face.app.store.hosted, web_face.clock
    store.put("orphan" * 4 + ".jpg", "image/jpeg", b"left by a crash", clock())
    assert store.get("orphan" * 4 + ".jpg", clock()) is not None
    clock.advance(HOSTED_FOR + 1)
    assert store.get("orphan" * 4 + ".jpg", clock()) is None  # never served past a day
    swept = store.put("fresh" * 4 + ".jpg", "image/jpeg", b"new", clock())
    assert swept == 1  # and gone from the table at the next upload


def test_a_different_password_pauses_with_a_message_naming_web_password(
    server: FakePlatformServer, web_face: WebFace
) -> None:
    settings = hosted_on_web(server, web_face.url, password="not-the-web-face-password")
    with httpx.Client(timeout=5) as http:
        ig = publisher(settings, http)
        with pytest.raises(AuthError) as refused:
            ig.verify()
    assert refused.value.variable == "WEB_PASSWORD"
    assert "WEB_PASSWORD must be the same" in refused.value.message


def test_a_public_url_without_the_web_face_is_named(server: FakePlatformServer) -> None:
    settings = hosted_on_web(server, server.base_url)  # the fake Graph server: no /media/
    with httpx.Client(timeout=5) as http:
        ig = publisher(settings, http)
        with pytest.raises(AuthError) as refused:
            ig.verify()
    assert refused.value.variable == "PUBLIC_URL"


def test_image_host_web_needs_web_password(server: FakePlatformServer) -> None:
    settings = hosted_on_web(server, "https://bot.example.com")
    settings = replace(settings, web=replace(settings.web, password=None))
    with httpx.Client(timeout=5) as http, pytest.raises(ConfigError) as refused:
        publisher(settings, http)
    assert refused.value.variable == "WEB_PASSWORD"
