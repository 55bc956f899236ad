"""The store's `media` table: a person's local picture kept by content, on both back-ends."""

from __future__ import annotations

import hashlib

from bot.store import Store
from bot.store.media import media_digest
from tests.fakes.images import jpeg_bytes


def test_a_picture_is_kept_once_and_comes_back_byte_for_byte(database_url: str) -> None:
    store = Store.open(database_url)
    try:
        data = jpeg_bytes(min_size=70_000) + bytes(range(256))  # every byte value, NULs too
        digest = hashlib.sha256(data).hexdigest()
        assert store.media.media(digest) is None
        store.media.put_media(digest, "image/jpeg", data, 1.0)
        store.media.put_media(digest, "image/jpeg", data, 2.0)  # the same file again: kept once
        assert store.media.media(digest) == ("image/jpeg", data)
    finally:
        store.close()


def test_only_media_references_name_a_kept_picture() -> None:
    assert media_digest("media:abc123") == "abc123"
    assert media_digest("https://img.example.com/media:abc.jpg") is None
    assert media_digest(None) is None
