"""PUBLIC_URL/media/: the fitted images a platform fetches when IMAGE_HOST=web.

Instagram (and Threads) take no upload: they download the image from a public address. With
IMAGE_HOST=web the worker uploads its fitted copy here (PUT, with the key derived from
WEB_PASSWORD), the platform GETs it without any login, and the worker DELETEs it once the post
is made. Names are random (unguessable) and a copy lives a day at most (bot.store.hosted), so
nothing else can be read or left here.
"""

from __future__ import annotations

import hmac
import re

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from bot.platforms.hosting import media_upload_key
from bot.web.context import WebContext

NAME = re.compile(r"[A-Za-z0-9_-]{16,64}\.(jpg|jpeg|png)")
TYPES = ("image/jpeg", "image/png")
MAX_BYTES = 16 * 1024 * 1024  # twice Instagram's 8 MB: fitted copies are well within it


def media_routes(ctx: WebContext) -> list[Route]:
    def authorised(request: Request) -> Response | None:
        """None when the request carries the upload key; else the answer to give."""
        password = ctx.settings.web.password
        if password is None:
            return PlainTextResponse(
                "this web face has no WEB_PASSWORD, so it takes no images (IMAGE_HOST=web)",
                status_code=403,
            )
        given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), media_upload_key(password.reveal()).encode()):
            return PlainTextResponse("a wrong or missing upload key", status_code=401)
        return None

    async def probe(request: Request) -> Response:
        """The worker's `check`: this is the bot's web face and the key matches."""
        return authorised(request) or PlainTextResponse("ok")

    async def serve(request: Request) -> Response:
        name = request.path_params["name"]
        found = ctx.store.hosted.get(name, ctx.clock()) if NAME.fullmatch(name) else None
        if found is None:
            return PlainTextResponse("not found", status_code=404)
        content_type, data = found
        return Response(
            data, media_type=content_type, headers={"Cache-Control": "public, max-age=600"}
        )

    async def upload(request: Request) -> Response:
        refused = authorised(request)
        if refused is not None:
            return refused
        name = request.path_params["name"]
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if not NAME.fullmatch(name) or content_type not in TYPES:
            return PlainTextResponse("a JPEG or PNG under a random name only", status_code=400)
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BYTES:
                return PlainTextResponse("too large", status_code=413)
        ctx.store.hosted.put(name, content_type, bytes(body), ctx.clock())
        return PlainTextResponse("stored", status_code=201)

    async def remove(request: Request) -> Response:
        refused = authorised(request)
        if refused is not None:
            return refused
        name = request.path_params["name"]
        if not (NAME.fullmatch(name) and ctx.store.hosted.remove(name)):
            return PlainTextResponse("not found", status_code=404)
        return Response(status_code=204)

    return [
        Route("/media/", probe, methods=["GET"]),
        Route("/media/{name}", serve, methods=["GET", "HEAD"]),
        Route("/media/{name}", upload, methods=["PUT"]),
        Route("/media/{name}", remove, methods=["DELETE"]),
    ]
