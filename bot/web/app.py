"""The Starlette application: routes, the login gate and CSRF checks around the views.

Endpoints are plain functions (Starlette runs them in its thread pool), since the store is
synchronous; nothing here blocks the event loop.
"""

from __future__ import annotations

import hmac
import json
import logging
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from bot.models import DeliveryStatus as S
from bot.status import gather_status
from bot.store.rows import HandChange
from bot.web import views
from bot.web.context import WebContext
from bot.web.media import media_routes
from bot.web.security import (
    COOKIE,
    LoginThrottle,
    SecurityHeaders,
    Session,
    Sessions,
    csrf_matches,
    password_matches,
    session_key,
)
from bot.web.websub import websub_routes

log = logging.getLogger("bot.web")
HERE = Path(__file__).resolve().parent
FLASH = {
    "approved": "Approved: it is queued and goes out as soon as pacing allows.",
    "rejected": "Rejected: it will not be posted.",
    "saved": "Text saved.",
    "cancelled": "Cancelled: it will not be posted.",
    "retried": "Queued again: it goes out as soon as pacing allows.",
    "hurried": "Due now: it goes out as soon as pacing (POST_SPACING, MAX_POSTS_PER_HOUR, "
    "QUIET_HOURS) allows.",
    "gone": "Nothing changed: that post is no longer in a state that allows it "
    "(sent, being sent, or changed by someone else).",
}


class WebFace:
    """Holds the context, the session signer and the templates; builds the Starlette app."""

    def __init__(self, ctx: WebContext) -> None:
        self.ctx = ctx
        key = session_key(ctx.store.platforms.get_meta, ctx.store.platforms.set_meta)
        self.sessions = Sessions(key, ctx.settings.web)
        self.throttle = LoginThrottle(clock=ctx.clock)
        self.templates = Environment(
            loader=FileSystemLoader(str(HERE / "templates")),
            autoescape=select_autoescape(default=True, default_for_string=True),
        )

    # --- plumbing ------------------------------------------------------------------------------

    def session(self, request: Request) -> Session:
        return self.sessions.load(request.cookies.get(COOKIE))

    def render(
        self, request: Request, name: str, session: Session, status_code: int = 200, **values: Any
    ) -> HTMLResponse:
        html = self.templates.get_template(name).render(
            csrf=session.csrf,
            authenticated=session.authenticated,
            login_required=not self.sessions.open_access,
            flash=FLASH.get(request.query_params.get("done", "")),
            dry_run=self.ctx.settings.dry_run,
            path=request.url.path,
            **values,
        )
        response = HTMLResponse(html, status_code=status_code)
        if session.fresh:
            response.set_cookie(value=self.sessions.dump(session), **self.sessions.cookie_args())
        return response

    def gate(self, request: Request) -> tuple[Session, Response | None]:
        """The session, or the answer to give instead (login page for a person)."""
        session = self.session(request)
        if session.authenticated:
            return session, None
        target = quote(request.url.path, safe="/")
        return session, RedirectResponse(f"/login?next={target}", status_code=303)

    async def form_gate(self, request: Request) -> tuple[Session, dict[str, str], Response | None]:
        """A POST from a page: signed in, and carrying this session's CSRF token."""
        session, refused = self.gate(request)
        form = {k: str(v) for k, v in (await request.form()).items()}
        if refused is not None:
            return session, form, refused
        given = form.get("csrf") or request.headers.get("x-csrf-token")
        if not csrf_matches(session, given):
            return (
                session,
                form,
                PlainTextResponse(
                    "refused: the form's CSRF token is missing or wrong; reload the page",
                    status_code=403,
                ),
            )
        return session, form, None

    # --- pages ---------------------------------------------------------------------------------

    def login_page(self, request: Request) -> Response:
        session = self.session(request)
        if session.authenticated:
            return RedirectResponse("/", status_code=303)
        return self.render(request, "login.html", session, next=_safe_next(request))

    async def login(self, request: Request) -> Response:
        session = self.session(request)
        form = {k: str(v) for k, v in (await request.form()).items()}
        if not csrf_matches(session, form.get("csrf")):
            return PlainTextResponse(
                "refused: the login form's CSRF token is missing or wrong; reload the page",
                status_code=403,
            )
        client = request.client.host if request.client else "?"
        wait = self.throttle.retry_after(client)
        if wait is not None:
            return self.render(
                request,
                "login.html",
                session,
                status_code=429,
                next=form.get("next", "/"),
                error=f"Too many failed logins: try again in {int(wait // 60) + 1} minute(s).",
            )
        if not password_matches(self.ctx.settings.web, form.get("password", "")):
            self.throttle.failed(client)
            log.warning("web face: failed login", extra={"client": client})
            return self.render(
                request,
                "login.html",
                session,
                status_code=401,
                next=form.get("next", "/"),
                error="Wrong password.",
            )
        self.throttle.succeeded(client)
        fresh = self.sessions.new(authenticated=True)
        response = RedirectResponse(_safe_path(form.get("next", "/")), status_code=303)
        response.set_cookie(value=self.sessions.dump(fresh), **self.sessions.cookie_args())
        return response

    async def logout(self, request: Request) -> Response:
        _session, _form, refused = await self.form_gate(request)
        if refused is not None:
            return refused
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE, path="/")
        return response

    def overview(self, request: Request) -> Response:
        session, refused = self.gate(request)
        if refused is not None:
            return refused
        info = gather_status(self.ctx.store, self.ctx.settings, self.ctx.clock())
        data = views.overview(self.ctx, info)
        subs = self.ctx.store.websub.websub_states()
        for feed in info["feeds"]:
            feed["websub"] = subs.get(feed["url"])
        return self.render(request, "overview.html", session, **data)

    def queue(self, request: Request) -> Response:
        session, refused = self.gate(request)
        if refused is not None:
            return refused
        return self.render(request, "queue.html", session, **views.queue(self.ctx))

    def story(self, request: Request) -> Response:
        session, refused = self.gate(request)
        if refused is not None:
            return refused
        data = views.story(self.ctx, int(request.path_params["story_id"]))
        if data is None:
            return self.render(request, "missing.html", session, status_code=404)
        return self.render(request, "story.html", session, **data)

    def settings_page(self, request: Request) -> Response:
        session, refused = self.gate(request)
        if refused is not None:
            return refused
        rows = views.settings_rows(self.ctx.settings)
        return self.render(request, "settings.html", session, rows=rows)

    # --- actions -------------------------------------------------------------------------------

    async def act(self, request: Request) -> Response:
        session, form, refused = await self.form_gate(request)
        if refused is not None:
            return refused
        delivery_id = int(request.path_params["delivery_id"])
        action = request.path_params["action"]
        now = self.ctx.clock()
        store = self.ctx.store
        back = _safe_path(form.get("back", "/queue"))
        if action == "edit":
            try:
                views.edit_text(self.ctx, delivery_id, form.get("text", ""))
            except views.EditRefused as exc:
                data = views.queue(self.ctx)
                length = views.measure(self.ctx, delivery_id, form.get("text", ""))
                return self.render(
                    request,
                    "queue.html",
                    session,
                    status_code=422,
                    edit_error={"id": delivery_id, "message": exc.message, "length": length},
                    edit_text=form.get("text", ""),
                    **data,
                )
            return _done(back, "saved", delivery_id)
        done = {
            "approve": lambda: store.review.approve_delivery(delivery_id, now, by="web face"),
            "reject": lambda: store.review.reject_delivery(delivery_id, now, by="web face"),
            "cancel": lambda: _hand(store.queue.cancel_delivery(delivery_id, now)),
            "retry": lambda: _hand(store.queue.requeue_delivery(delivery_id, now)),
            "post-now": lambda: self._post_now(delivery_id, now),
        }
        outcome = {
            "approve": "approved",
            "reject": "rejected",
            "cancel": "cancelled",
            "retry": "retried",
            "post-now": "hurried",
        }
        if action not in done:
            return PlainTextResponse(f"unknown action {action!r}", status_code=404)
        changed = bool(done[action]())
        if changed:
            log.info(
                "web face: delivery changed",
                extra={"delivery": delivery_id, "action": action},
            )
            if action in ("approve", "retry", "post-now") and self.ctx.kick is not None:
                self.ctx.kick()
        return _done(back, outcome[action] if changed else "gone", delivery_id)

    def _post_now(self, delivery_id: int, now: float) -> bool:
        """A deferred delivery is brought forward; a queued one is already due (only pacing
        holds it). Either way the worker of this process is woken to send what pacing allows."""
        row = self.ctx.store.deliveries.find_delivery(delivery_id)
        if row is None or row.status not in (S.QUEUED, S.DEFERRED):
            return False
        if row.status == S.DEFERRED:
            return _hand(self.ctx.store.queue.hurry_delivery(delivery_id, now))
        return True

    # --- machine endpoints ---------------------------------------------------------------------

    def healthz(self, request: Request) -> Response:
        info = gather_status(self.ctx.store, self.ctx.settings, self.ctx.clock())
        body = json.dumps(info, ensure_ascii=False, default=str)
        return Response(
            body,
            status_code=200 if info.get("healthy") else 503,
            media_type="application/json",
        )

    def metrics(self, request: Request) -> Response:
        token = self.ctx.settings.web.metrics_token
        if token is not None:
            given = request.headers.get("authorization", "")
            want = f"Bearer {token.reveal()}"
            if not hmac.compare_digest(given.encode(), want.encode()):
                return PlainTextResponse(
                    "metrics need 'Authorization: Bearer <METRICS_TOKEN>'",
                    status_code=401,
                    headers={"WWW-Authenticate": 'Bearer realm="feedbot metrics"'},
                )
        from bot.web.metrics import render_metrics

        body, content_type = render_metrics(self.ctx)
        return Response(body, media_type=content_type)

    def build(self) -> Starlette:
        routes = [
            Route("/", self.overview),
            Route("/login", self.login_page, methods=["GET"]),
            Route("/login", self.login, methods=["POST"]),
            Route("/logout", self.logout, methods=["POST"]),
            Route("/queue", self.queue),
            Route("/story/{story_id:int}", self.story),
            Route("/settings", self.settings_page),
            Route("/deliveries/{delivery_id:int}/{action}", self.act, methods=["POST"]),
            Route("/healthz", self.healthz),
            Route("/metrics", self.metrics),
            Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
        ]
        routes += websub_routes(self.ctx)
        routes += media_routes(self.ctx)
        app = Starlette(routes=routes)
        app.add_middleware(SecurityHeaders, https=self.ctx.settings.web.https)
        return app


def _hand(change: HandChange | None) -> bool:
    return bool(change and change.done)


def _safe_path(value: str) -> str:
    """Only a path on this site: never an open redirect to another host."""
    if not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


def _safe_next(request: Request) -> str:
    return _safe_path(request.query_params.get("next", "/"))


def _done(back: str, what: str, delivery_id: int) -> Response:
    sep = "&" if "?" in back else "?"
    return RedirectResponse(f"{back}{sep}done={what}#d{delivery_id}", status_code=303)


def create_app(ctx: WebContext) -> Starlette:
    """The ASGI app for uvicorn (or Starlette's TestClient)."""
    return WebFace(ctx).build()
