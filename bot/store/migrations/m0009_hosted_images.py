"""hosted_images: fitted copies served by the web face at PUBLIC_URL/media/ (IMAGE_HOST=web).

Instagram downloads the image it posts from a public address. With IMAGE_HOST=web the worker
uploads the fitted copy to the web face, which keeps it here (shared by every process that
serves the web face) until the post is made, or a day at most.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Connection


def upgrade(conn: Connection) -> None:
    blob = "BYTEA" if conn.dialect.name == "postgresql" else "BLOB"
    conn.execute(
        text(
            f"""
            CREATE TABLE hosted_images (
                name VARCHAR(80) NOT NULL,
                content_type VARCHAR(40) NOT NULL,
                data {blob} NOT NULL,
                created_at FLOAT NOT NULL,
                PRIMARY KEY (name)
            )
            """
        )
    )
    conn.execute(text("CREATE INDEX ix_hosted_images_created ON hosted_images (created_at)"))
