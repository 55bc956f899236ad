"""What the fake Graph API (/v{N}.0/...) shares between the platforms it hosts: the Page token
and its checks, /me and /debug_token, error JSON with code/subcode, usage headers, cursor paging
and Meta's image fetcher. Facebook (facebook.py) and Instagram (instagram.py) add their own
objects on top; both are reached with the Page's token (Instagram API with Facebook Login).

Tokens are read from the form body, the Authorization header or (recorded, so a test can call
it a leak) the query. Bodies are the recorded answers in tests/fixtures/graph/.
"""

from __future__ import annotations

import json
import re
import urllib.request
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from tests.fakes.http_fake import FakeHttpServer, RecordedRequest, Reply, answer, multipart

GRAPH_PATH = re.compile(r"^/v\d+\.\d+/")


def graph_error(
    code: int, message: str, subcode: int | None = None, type_: str = "OAuthException", **extra: Any
) -> dict[str, Any]:
    """A Graph API error body (for tests' own faults; the fakes use the recorded ones)."""
    error: dict[str, Any] = {"message": message, "type": type_, "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    error["fbtrace_id"] = "AfakeTrace" + str(code)
    error.update(extra)
    return {"error": error}


def graph_status(code: int) -> int:
    """Graph answers 500 for codes 1 and 2 and 400 for everything else."""
    return 500 if code in {1, 2} else 400


def recorded_error(platform: str, name: str, /, **values: Any) -> Reply:
    """A recorded Graph error, with the HTTP status Graph gives its code."""
    body = answer(platform, name, **values)
    return Reply(graph_status(body["error"]["code"]), body)


def graph_page(
    items: list[dict[str, Any]], params: dict[str, str], limit: int
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Graph cursor paging: `after` continues a listing; `next` is present only when more is.
    (fake) the cursor is the offset; Graph's are opaque strings."""
    start = int(params.get("after", "0") or 0)
    page = items[start : start + limit]
    paging: dict[str, Any] = {"cursors": {"before": str(start), "after": str(start + len(page))}}
    if start + limit < len(items):
        paging["next"] = f"https://graph.facebook.com/...&after={start + len(page)}"
    return page, paging


def graph_time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def multipart_fields(request: RecordedRequest) -> dict[str, str]:
    """The text fields of a multipart/form-data body (files left out), as Graph reads them."""
    parts = multipart(request) or {}
    return {k: v.decode("utf-8", "replace") for k, v in parts.items() if k != "source"}


class GraphCall:
    """One authenticated Graph request, parsed once for the platforms that answer it."""

    def __init__(self, request: RecordedRequest, token: str) -> None:
        self.method = request.method
        self.token = token
        self.parts = request.path.strip("/").split("/")[1:]
        self.form = request.form() or multipart_fields(request)
        self.upload = (multipart(request) or {}).get("source")
        self.params = request.params()


class GraphApi(FakeHttpServer):
    """The Graph host: Page identity and token, debug_token, errors and paging."""

    def __init__(
        self,
        *,
        page_id: str = "104000000000001",
        page_name: str = "JCK Test Page",
        page_token: str = "EAAfake-page-token-1234567890",
        **rest: Any,
    ) -> None:
        super().__init__(**rest)
        self.page_id, self.page_name, self.page_token = page_id, page_name, page_token
        self.business_usage: dict[str, Any] | None = None
        """When set, sent as X-Business-Use-Case-Usage {page_id: [this]} on Graph answers."""
        self.token_expiry: dict[str, tuple[int, int]] = {}
        """token -> (expires_at, data_access_expires_at) for debug_token; 0 means never.
        A token not listed never expires and keeps data access for 90 days."""

    def graph_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if GRAPH_PATH.match(r.path)]

    # -- hooks for the platforms on this host (cooperative: answer yours, else super()) -----

    def _graph_tokens(self) -> set[str]:
        """The tokens this host accepts."""
        return {self.page_token}

    def _graph_me(self, token: str) -> Reply:
        """GET /me for `token` (here: the Page's own token)."""
        return Reply(200, answer("graph", "me", id=self.page_id, name=self.page_name))

    def _graph_call(self, call: GraphCall) -> Reply | None:
        """A request on an object one of the platforms owns; None: not theirs."""
        return None

    def _graph_object(self, object_id: str, params: dict[str, str]) -> Reply | None:
        """GET /{object-id} for an object one of the platforms owns; None: not theirs."""
        return None

    def _own_image(self, url: str) -> tuple[bytes, str] | None:
        """What Meta's fetcher would get for `url`: this server's images are read directly;
        another loopback server (an S3 stand-in) is fetched over HTTP for real.
        (fake) never fetches a non-loopback host."""
        prefix = self.base_url + "/images/"
        if url.startswith(prefix):
            return self.images.get(url[len(prefix) :])
        if urlsplit(url).hostname in {"127.0.0.1", "localhost"}:
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    return response.read(), response.headers.get("content-type", "")
            except OSError:
                return None
        return None

    # -- dispatch ---------------------------------------------------------------------------

    def _route(self, request: RecordedRequest) -> Reply | None:
        if GRAPH_PATH.match(request.path):
            return self._graph(request)
        return super()._route(request)

    def _decorate(self, path: str, reply: Reply, *, consume: bool = True) -> Reply:
        if GRAPH_PATH.match(path):
            if self.business_usage is not None:
                usage = json.dumps({self.page_id: [self.business_usage]})
                reply.headers.setdefault("X-Business-Use-Case-Usage", usage)
            reply.headers.setdefault(
                "X-App-Usage", '{"call_count":1,"total_cputime":1,"total_time":1}'
            )
        return super()._decorate(path, reply, consume=consume)

    def _graph_token(self, request: RecordedRequest) -> str | None:
        auth = request.headers.get("authorization", "")
        for scheme in ("Bearer ", "OAuth "):
            if auth.startswith(scheme):
                return auth[len(scheme) :].strip()
        form = request.form() or multipart_fields(request)
        return form.get("access_token") or request.params().get("access_token")

    def _graph(self, request: RecordedRequest) -> Reply:
        token = self._graph_token(request)
        if not token:
            return recorded_error("graph", "error_token_missing")
        valid = self._graph_tokens()
        if token not in valid:
            return recorded_error("graph", "error_token_invalid")
        call = GraphCall(request, token)
        with self._lock:
            if call.method == "GET" and call.parts == ["debug_token"]:
                return self._debug_token(call.params.get("input_token", ""), valid)
            if call.method == "GET" and call.parts == ["me"]:
                return self._graph_me(token)
            reply = self._graph_call(call)
            if reply is not None:
                return reply
            if call.method == "GET" and len(call.parts) == 1:
                found = self._graph_object(call.parts[0], call.params)
                return found or self._unsupported("get", call.parts[0])
        return self._unsupported(call.method.lower(), "/".join(call.parts))

    def _unsupported(self, method: str, object_id: str) -> Reply:
        return recorded_error("graph", "error_unsupported", method=method, object=object_id)

    def _debug_token(self, token: str, valid: set[str]) -> Reply:
        """GET /debug_token: what Graph says of a token (here always a Page token)."""
        if token not in valid:
            return Reply(200, answer("graph", "debug_token_invalid"))
        default = (0, int(self.clock()) + 90 * 86400)
        expires_at, data_access = self.token_expiry.get(token, default)
        body = answer(
            "graph",
            "debug_token",
            data_access_expires_at=data_access,
            expires_at=expires_at,
            issued_at=int(self.clock()) - 86400,
            profile_id=self.page_id,
        )
        return Reply(200, body)
