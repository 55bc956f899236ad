"""The callback the hub talks to: PUBLIC_URL/websub/{token}.

GET answers intent verification (echo hub.challenge for a subscription we asked for, refuse
anything else). POST is a push: signed with our hub.secret (X-Hub-Signature: sha1=... or
sha256=..., also sha384/sha512), else ignored; either way answered 2xx, as the spec says, so a
forger learns nothing. A valid push goes through the same ingestion as a poll, at once.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from typing import Any

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from bot.web.context import WebContext

log = logging.getLogger("bot.websub")
ALGORITHMS = {
    "sha1": hashlib.sha1,
    "sha256": hashlib.sha256,
    "sha384": hashlib.sha384,
    "sha512": hashlib.sha512,
}


def signature_valid(secret: str, body: bytes, header: str | None) -> bool:
    if not header or "=" not in header:
        return False
    method, _, given = header.strip().partition("=")
    digest = ALGORITHMS.get(method.lower())
    if digest is None:
        return False
    want = hmac.new(secret.encode(), body, digest).hexdigest()
    return hmac.compare_digest(want, given.strip().lower())


def websub_routes(ctx: WebContext) -> list[Any]:
    limit = ctx.settings.max_feed_bytes

    def verify(request: Request) -> Response:
        token = request.path_params["token"]
        sub = ctx.store.websub.subscription_by_token(token)
        q = request.query_params
        mode = q.get("hub.mode", "")
        if sub is None:
            return PlainTextResponse("unknown subscription", status_code=404)
        if mode == "denied":
            reason = q.get("hub.reason", "no reason given")
            ctx.store.websub.websub_failed(
                sub.feed_url, f"hub denied: {reason}", ctx.clock(), denied=True
            )
            log.warning(
                "WebSub: the hub denied the subscription",
                extra={"feed": sub.feed_url, "reason": reason},
            )
            return PlainTextResponse("ok")
        challenge = q.get("hub.challenge")
        if mode != "subscribe" or q.get("hub.topic") != sub.topic or not challenge:
            # We never ask to unsubscribe while the feed is configured: refuse it.
            return PlainTextResponse("not a subscription we asked for", status_code=404)
        lease = q.get("hub.lease_seconds")
        try:
            lease_seconds = float(lease) if lease else None
        except ValueError:
            lease_seconds = None
        ctx.store.websub.websub_verified(token, lease_seconds, ctx.clock())
        log.info(
            "WebSub: subscription verified",
            extra={"feed": sub.feed_url, "lease_seconds": lease_seconds},
        )
        return PlainTextResponse(challenge)

    async def receive(request: Request) -> Response:
        token = request.path_params["token"]
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                log.warning(
                    "WebSub: push larger than MAX_FEED_BYTES ignored", extra={"bytes": len(body)}
                )
                return PlainTextResponse("too large", status_code=413)
        sub = ctx.store.websub.subscription_by_token(token)
        if sub is None or not sub.secret or sub.feed_url not in ctx.settings.feed_urls:
            # 410 Gone tells the hub to drop a subscription we no longer want.
            return PlainTextResponse("unknown subscription", status_code=410)
        if not signature_valid(sub.secret, bytes(body), request.headers.get("x-hub-signature")):
            log.warning(
                "WebSub: push with a missing or wrong X-Hub-Signature ignored",
                extra={"feed": sub.feed_url},
            )
            return PlainTextResponse("accepted", status_code=202)  # 2xx: the spec's answer
        ctx.store.websub.websub_pushed(token, ctx.clock())
        content_type = request.headers.get("content-type")
        log.info("WebSub: push received", extra={"feed": sub.feed_url, "bytes": len(body)})
        if ctx.push is not None:
            ctx.push(sub.feed_url, bytes(body), content_type)
            return PlainTextResponse("accepted", status_code=202)
        task = (
            BackgroundTask(_ingest_and_wake, ctx, sub.feed_url, bytes(body), content_type)
            if ctx.engine
            else None
        )
        return PlainTextResponse("accepted", status_code=202, background=task)

    return [
        Route("/websub/{token}", verify, methods=["GET"]),
        Route("/websub/{token}", receive, methods=["POST"]),
    ]


def _ingest_and_wake(ctx: WebContext, feed_url: str, body: bytes, content_type: str | None) -> None:
    """Under `web` alone: store the pushed stories here, then wake the workers elsewhere, so
    they are sent within seconds instead of at the workers' next drain."""
    assert ctx.engine is not None
    if ctx.engine.ingest_pushed(feed_url, body, content_type) and ctx.kick is not None:
        ctx.kick()
