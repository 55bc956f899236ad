"""Fitted images the web face serves at PUBLIC_URL/media/{name} (IMAGE_HOST=web).

A copy is wanted from its upload until the platform has fetched it, which is minutes. The worker
removes it after publishing; a copy left behind (a worker killed between its upload and its
checkpoint, a delivery that never came back) is swept after a day, when no container that
could still want it exists: Instagram's and Threads' containers expire within 24 hours.
"""

from __future__ import annotations

from sqlalchemy import delete, select

from bot.store.base import StoreBase
from bot.store.schema import hosted_images

HOSTED_FOR = 24 * 3600.0


class HostedImageStore(StoreBase):
    """The web face's side of IMAGE_HOST=web."""

    def put(self, name: str, content_type: str, data: bytes, now: float) -> int:
        """Keep a copy under `name` (a second upload under the same name replaces it), and
        sweep copies older than a day. Returns how many were swept."""
        with self._tx() as conn:
            swept = conn.execute(
                delete(hosted_images).where(hosted_images.c.created_at < now - HOSTED_FOR)
            ).rowcount
            conn.execute(delete(hosted_images).where(hosted_images.c.name == name))
            conn.execute(
                hosted_images.insert().values(
                    name=name, content_type=content_type, data=data, created_at=now
                )
            )
        return int(swept or 0)

    def get(self, name: str, now: float) -> tuple[str, bytes] | None:
        """(content type, bytes) of a copy still kept, or None."""
        with self._read() as conn:
            row = conn.execute(
                select(hosted_images.c.content_type, hosted_images.c.data).where(
                    hosted_images.c.name == name,
                    hosted_images.c.created_at >= now - HOSTED_FOR,
                )
            ).first()
        return (str(row.content_type), bytes(row.data)) if row else None

    def remove(self, name: str) -> bool:
        with self._tx() as conn:
            return bool(
                conn.execute(delete(hosted_images).where(hosted_images.c.name == name)).rowcount
            )
