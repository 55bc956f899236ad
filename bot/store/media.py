"""Pictures a person gave as local files (`post --image PATH`), kept by content in the store.

The store is the one thing the command line and every worker share, so a scheduled post's
picture is still there when a worker on another machine sends it. A post names its picture
`media:<sha256>`; the same file given twice is kept once.
"""

from __future__ import annotations

from sqlalchemy import select

from bot.store.base import StoreBase
from bot.store.schema import media

MEDIA_PREFIX = "media:"


def media_digest(image_url: str | None) -> str | None:
    """The digest a Post's `media:<sha256>` picture names, or None for a URL or no picture."""
    if image_url and image_url.startswith(MEDIA_PREFIX):
        return image_url[len(MEDIA_PREFIX) :]
    return None


class MediaStore(StoreBase):
    """The pictures' side of the store."""

    def put_media(self, digest: str, content_type: str, data: bytes, now: float) -> None:
        """Keep a picture (nothing happens when the same content is kept already)."""
        with self._tx() as conn:
            conn.execute(
                self._insert_ignore(media).values(
                    digest=digest, content_type=content_type, data=data, created_at=now
                )
            )

    def media(self, digest: str) -> tuple[str, bytes] | None:
        """(content type, bytes) of a kept picture, or None when it is unknown."""
        with self._read() as conn:
            row = conn.execute(
                select(media.c.content_type, media.c.data).where(media.c.digest == digest)
            ).first()
        return (str(row.content_type), bytes(row.data)) if row else None
