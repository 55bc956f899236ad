"""Title cards: 1080x1350 JPEGs within Instagram's rules; CJK drawn, emoji left out (no boxes);
the logo from config/brand/; and a story without an image goes out on Instagram with one."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image

from bot.app import build_app
from bot.errors import ConfigError
from bot.imaging.cards import HEIGHT, MARGIN, WIDTH, CardStyle, TitleCardMaker
from bot.settings import Backlog, load_settings
from bot.settings_reach import ImageSettings, Reach
from tests.botenv import BASE_TIME, Item, write_feed
from tests.conftest import FakeClock
from tests.fakes.platform_server import FakePlatformServer

WHITE = (255, 255, 255)


def read(body: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(body))
    image.load()
    return image


def ink(image: Image.Image, box: tuple[int, int, int, int]) -> int:
    """Pixels close to the text colour (white) in `box`."""
    region = image.crop(box).convert("L")
    return sum(1 for value in region.tobytes() if value > 200)


@pytest.fixture(scope="module")
def maker() -> TitleCardMaker:
    return TitleCardMaker(CardStyle(brand_name="JCK Magazine"))


def test_a_card_holds_instagrams_rules(maker: TitleCardMaker) -> None:
    card = maker.render("KP Chair Asks NGOs to Reconsider Boycott")
    image = read(card.body)
    assert (image.format, image.mode, image.size) == ("JPEG", "RGB", (WIDTH, HEIGHT))
    assert image.width / image.height == 0.8 and len(card.body) < 8 * 1024 * 1024
    assert ink(image, (MARGIN, MARGIN, WIDTH - MARGIN, HEIGHT // 2)) > 2000  # the title
    assert ink(image, (MARGIN, HEIGHT - 200, WIDTH - MARGIN, HEIGHT)) > 200  # the brand name


@pytest.mark.parametrize(
    "title", ["日本の宝飾業界、ダイヤモンド価格が上昇", "한국 보석 업계 소식", "珠宝行业新闻"]
)
def test_cjk_titles_are_drawn(maker: TitleCardMaker, title: str) -> None:
    blank = read(maker.render("").body)
    card = read(maker.render(title).body)
    box = (MARGIN, MARGIN, WIDTH - MARGIN, HEIGHT // 2)
    assert ink(blank, box) == 0
    assert ink(card, box) > 2000


def test_emoji_are_left_out_not_drawn_as_boxes(maker: TitleCardMaker) -> None:
    with_emoji = maker.render("Gold 💍 rings ✨ shine 🇺🇸")
    assert with_emoji.body == maker.render("Gold rings shine").body


def test_the_logo_from_the_brand_folder_replaces_the_name(tmp_path: Path) -> None:
    Image.new("RGBA", (400, 100), (250, 200, 0, 255)).save(tmp_path / "logo.png")
    images = ImageSettings(brand_dir=tmp_path, brand_color=(0, 0, 80), brand_name="Ignored")
    card = read(TitleCardMaker(CardStyle.from_settings(images)).render("Title").body)
    red, green, blue = card.getpixel((MARGIN + 200, HEIGHT - MARGIN - 50))
    assert red > 200 and green > 150 and blue < 80  # the logo's yellow
    assert card.getpixel((5, 5))[2] > 60  # BRAND_COLOR background


def test_title_cards_need_an_image_host() -> None:
    env = {"FEED_URLS": "https://ex.com/feed", "IG_TITLE_CARD": "true"}
    with pytest.raises(ConfigError, match="IMAGE_HOST") as caught:
        load_settings(env, Path("/"))
    assert caught.value.variable == "IMAGE_HOST"


def test_a_story_without_image_goes_to_instagram_as_a_card(tmp_path: Path) -> None:
    with FakePlatformServer(ig_in_progress_reads=0) as server:
        settings = server.settings(
            platforms=("instagram",),
            feed_urls=(write_feed(tmp_path / "feed.xml", [Item(1, image=False)]),),
            database_url=f"sqlite:///{tmp_path / 'bot.db'}",
            backlog=Backlog("all"),
            max_story_age=None,
        )
        images = ImageSettings(image_host="facebook", title_card=True, brand_name="JCK")
        settings = replace(settings, reach=Reach(images=images))
        app = build_app(settings, clock=FakeClock(BASE_TIME.timestamp()))
        try:
            [row] = [d.as_dict() for d in app.engine.tick().deliveries]
        finally:
            app.close()
        assert row["status"] == "published"
        (container,) = server.ig_containers.values()
        assert read(container["image_bytes"]).size == (WIDTH, HEIGHT)
        assert server.fb_photos == {} and len(server.fb_deleted) == 1
