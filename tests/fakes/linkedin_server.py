"""A fake LinkedIn REST API (api.linkedin.com/rest) that behaves like the real one on the wire.

Built on `FakePlatformServer` (recorded requests, faults, hangs, drops, test images), with its
own routes. From networks.md section 4:

* Every call needs `Authorization: Bearer`, `LinkedIn-Version: YYYYMM` (a sunset version gets
  426) and `X-Restli-Protocol-Version: 2.0.0`; errors are `{"status", "serviceErrorCode",
  "code", "message"}` (401 INVALID_ACCESS_TOKEN 65600).
* `POST /rest/posts` answers 201 with an empty body and the post's URN in `x-restli-id`;
  unknown fields are refused with 422 "unrecognized field found but not allowed"; a
  commentary identical to an earlier post's gets 422 DUPLICATE_POST naming it (LinkedIn
  refuses such repeats; switch off with `refuse_duplicates=False`).
* The commentary is stored as LinkedIn shows it: cut at the first reserved character left
  unescaped outside a mention element, a hashtag or a URL (LinkedIn's silent truncation;
  (fake) URLs left raw are taken whole, as the clients that leave them raw report).
* Images API: `POST /rest/images?action=initializeUpload` gives an upload URL on this server
  and an image URN; `PUT` the bytes there (201); `GET /rest/images/{urn}` reads its status.
* `GET /rest/posts?q=author&author=…` lists the organization's posts newest first, paged
  with `start`/`count`; `GET /rest/organizations/{id}` reads the Page's name.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote

from bot.settings_values import Secret
from tests.fakes.platform_server import FakePlatformServer, RecordedRequest, Reply, _sniff

ACTIVE_VERSIONS = re.compile(r"^(2026(0[1-9]|1[0-2])|2027\d\d)$")
"""(fake) versions served: 2026 and later (202601 sunsets January 2027)."""
RESERVED = set("\\|{}@[]()<>#*_~")
_MENTION = re.compile(r"@\[[^\[\]\n]{1,100}\]\(urn:li:(?:organization|person):\d+\)")
_HASHTAG = re.compile(r"(?<![\w#&])#\w+")
_URL = re.compile(r"https?://[^\s<>\"]+", re.IGNORECASE)
POST_FIELDS = {
    "author", "commentary", "visibility", "distribution", "content", "lifecycleState",
    "isReshareDisabledByAuthor", "contentLandingPage", "contentCallToActionLabel", "adContext",
    "container", "reshareContext",
}  # fmt: skip
ARTICLE_FIELDS = {"source", "title", "description", "thumbnail", "thumbnailAltText"}


def linkedin_error(status: int, code: str, message: str, service: int | None = None) -> Reply:
    body: dict[str, Any] = {"status": status, "code": code, "message": message}
    if service is not None:
        body["serviceErrorCode"] = service
    return Reply(status, body)


def shown(commentary: str) -> str:
    """What LinkedIn keeps of a commentary: everything up to the first unescaped reserved
    character that starts no element (a mention, a hashtag or a URL)."""
    i = 0
    while i < len(commentary):
        char = commentary[i]
        if char == "\\" and i + 1 < len(commentary) and commentary[i + 1] in RESERVED:
            i += 2
            continue
        for pattern in (_MENTION, _HASHTAG, _URL):
            element = pattern.match(commentary, i)
            if element is not None:
                i = element.end()
                break
        else:
            if char in RESERVED:
                return commentary[:i]
            i += 1
    return commentary


class FakeLinkedInServer(FakePlatformServer):
    """LinkedIn's REST API on its own port (LINKEDIN_API_BASE_URL points here)."""

    def __init__(
        self,
        *,
        organization_id: str = "2414183",
        organization_name: str = "JCK Test Company",
        linkedin_token: str = "AQVfake-linkedin-token-1234567890",
        refuse_duplicates: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.organization_id = organization_id
        self.organization_name = organization_name
        self.linkedin_token = linkedin_token
        self.refuse_duplicates = refuse_duplicates
        self.can_read_posts = True
        self.can_read_organization = True
        """False: the token lacks rw_organization_admin (it may still post and list posts)."""
        self.li_posts: list[dict[str, Any]] = []
        self.li_images: dict[str, dict[str, Any]] = {}

    @property
    def author(self) -> str:
        return f"urn:li:organization:{self.organization_id}"

    def linkedin_settings(self, **overrides: Any) -> Any:
        from bot.platforms.linkedin.settings import LinkedInSettings

        values: dict[str, Any] = {
            "organization_id": self.organization_id,
            "access_token": Secret(self.linkedin_token),
            "base_url": self.base_url,
        }
        values.update(overrides)
        return LinkedInSettings(**values)

    def linkedin_env(self) -> dict[str, str]:
        return {
            "LINKEDIN_ORGANIZATION_ID": self.organization_id,
            "LINKEDIN_ACCESS_TOKEN": self.linkedin_token,
            "LINKEDIN_API_BASE_URL": self.base_url,
        }

    # -- dispatch ---------------------------------------------------------------------------

    def handle(self, request: RecordedRequest) -> Reply:
        path = request.path
        if path.startswith("/images/"):
            return self._image(request)
        if path.startswith("/dms-uploads/"):
            return self._upload(request)
        if path.startswith("/rest/"):
            return self._rest(request)
        return Reply(404, {"error": "not found"})

    def _decorate(self, path: str, reply: Reply, *, consume: bool = True) -> Reply:
        return reply

    def _authorised(self, request: RecordedRequest) -> Reply | None:
        auth = request.headers.get("authorization", "")
        if auth != f"Bearer {self.linkedin_token}":
            return linkedin_error(401, "INVALID_ACCESS_TOKEN", "Invalid access token", 65600)
        return None

    def _rest(self, request: RecordedRequest) -> Reply:
        refused = self._authorised(request)
        if refused is not None:
            return refused
        version = request.headers.get("linkedin-version")
        if not version:
            return linkedin_error(400, "VERSION_MISSING", "A version must be present.")
        if not ACTIVE_VERSIONS.match(version):
            return linkedin_error(
                426, "NONEXISTENT_VERSION", f"Requested version {version} is not active"
            )
        if request.headers.get("x-restli-protocol-version") != "2.0.0":
            return linkedin_error(400, "ILLEGAL_ARGUMENT", "Rest.li protocol 2.0.0 is required")
        rest = unquote(request.path[len("/rest/") :])
        method, params = request.method, request.params()
        with self._lock:
            if method == "POST" and rest == "posts":
                return self._create(request)
            if method == "GET" and rest == "posts":
                return self._listing(params)
            if method == "GET" and rest.startswith("posts/"):
                return self._one(rest[len("posts/") :])
            if method == "POST" and rest == "images" and params.get("action") == "initializeUpload":
                return self._initialize(request)
            if method == "GET" and rest.startswith("images/"):
                image = self.li_images.get(rest[len("images/") :])
                if image is None:
                    return linkedin_error(404, "NOT_FOUND", "Not Found")
                return Reply(200, {"id": image["urn"], "status": image["status"]})
            if method == "GET" and rest == f"organizations/{self.organization_id}":
                if not self.can_read_organization:
                    return linkedin_error(403, "ACCESS_DENIED", "Not enough permissions to "
                                          "access: organizations.GET", 100)  # fmt: skip
                return Reply(200, {"id": int(self.organization_id),
                                   "localizedName": self.organization_name,
                                   "vanityName": "jck-test"})  # fmt: skip
        return linkedin_error(404, "NOT_FOUND", f"No resource found for {method} /rest/{rest}")

    def _create(self, request: RecordedRequest) -> Reply:
        try:
            body = request.json()
        except ValueError:
            return linkedin_error(400, "ILLEGAL_ARGUMENT", "The request body is not JSON")
        if not isinstance(body, dict):
            return linkedin_error(400, "ILLEGAL_ARGUMENT", "The request body is not an object")
        unknown = set(body) - POST_FIELDS
        article = (body.get("content") or {}).get("article")
        if isinstance(article, dict):
            unknown |= {f"content/article/{k}" for k in set(article) - ARTICLE_FIELDS}
        if unknown:
            field = sorted(unknown)[0]
            return Reply(422, {"status": 422, "message": f"/{field} :: unrecognized field "
                               "found but not allowed"})  # fmt: skip
        if body.get("author") != self.author:
            return linkedin_error(403, "ACCESS_DENIED", "Not enough permissions to post as "
                                  f"{body.get('author')}", 100)  # fmt: skip
        for required in ("commentary", "visibility", "distribution", "lifecycleState"):
            if required not in body:
                return Reply(422, {"status": 422, "message": f"/{required} :: field is required"})
        if isinstance(article, dict):
            if not article.get("source") or not article.get("title"):
                return Reply(422, {"status": 422, "message": "/content/article :: source and "
                                   "title are required"})  # fmt: skip
            thumb = article.get("thumbnail")
            if thumb and (thumb not in self.li_images or not self.li_images[thumb]["bytes"]):
                return Reply(422, {"status": 422, "message": f"/content/article/thumbnail :: "
                                   f"{thumb} is not an uploaded image"})  # fmt: skip
        commentary = str(body.get("commentary") or "")
        if len(shown(commentary)) > 3000:
            return Reply(422, {"status": 422, "message": "/commentary :: length exceeds 3000"})
        if self.refuse_duplicates:
            for earlier in self.li_posts:
                if earlier["raw_commentary"] == commentary:
                    return Reply(422, _duplicate(earlier["id"]))
        urn = f"urn:li:share:{7141138937766391808 + self.next_id()}"
        now = self.clock()
        self.li_posts.append(
            {
                "id": urn,
                "raw_commentary": commentary,
                "commentary": shown(commentary),
                "content": body.get("content"),
                "createdAt": int(now * 1000),
                "body": body,
            }
        )
        return Reply(201, b"", {"x-restli-id": urn, "Location": f"/rest/posts/{urn}"})

    def _listing(self, params: dict[str, str]) -> Reply:
        if params.get("q") != "author" or params.get("author") != self.author:
            return linkedin_error(400, "ILLEGAL_ARGUMENT", "q=author with this author required")
        if not self.can_read_posts:
            return linkedin_error(403, "ACCESS_DENIED", "Not enough permissions to access: "
                                  "partnerApiPostsExternal.FINDER-author", 100)  # fmt: skip
        count = int(params.get("count", "10"))
        start = int(params.get("start", "0"))
        if not 1 <= count <= 100:
            return linkedin_error(400, "ILLEGAL_ARGUMENT", "count must be between 1 and 100")
        posts = sorted(self.li_posts, key=lambda p: p["createdAt"], reverse=True)
        page = posts[start : start + count]
        elements = [self._element(p) for p in page]
        paging = {"start": start, "count": count, "links": []}
        return Reply(200, {"paging": paging, "elements": elements})

    def _element(self, post: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": post["id"],
            "author": self.author,
            "commentary": post["commentary"],
            "content": post["content"],
            "createdAt": post["createdAt"],
            "publishedAt": post["createdAt"],
            "lastModifiedAt": post["createdAt"],
            "lifecycleState": "PUBLISHED",
            "visibility": "PUBLIC",
        }

    def _one(self, urn: str) -> Reply:
        for post in self.li_posts:
            if post["id"] == urn:
                return Reply(200, self._element(post))
        return linkedin_error(404, "NOT_FOUND", f"Post {urn} not found")

    def _initialize(self, request: RecordedRequest) -> Reply:
        try:
            owner = request.json()["initializeUploadRequest"]["owner"]
        except (ValueError, KeyError, TypeError):
            return Reply(422, {"status": 422, "message": "/initializeUploadRequest :: required"})
        if owner != self.author:
            return linkedin_error(403, "ACCESS_DENIED", f"Not enough permissions for {owner}", 100)
        number = self.next_id()
        urn = f"urn:li:image:C4E10AQfake{number}"
        self.li_images[urn] = {"urn": urn, "status": "WAITING_UPLOAD", "bytes": b"", "type": ""}
        upload = f"{self.base_url}/dms-uploads/{number}"
        value = {"uploadUrlExpiresAt": int((self.clock() + 3600) * 1000), "uploadUrl": upload,
                 "image": urn}  # fmt: skip
        return Reply(200, {"value": value})

    def _upload(self, request: RecordedRequest) -> Reply:
        refused = self._authorised(request)
        if refused is not None:
            return refused
        number = request.path.rsplit("/", 1)[-1]
        urn = f"urn:li:image:C4E10AQfake{number}"
        with self._lock:
            image = self.li_images.get(urn)
            if request.method != "PUT" or image is None:
                return Reply(404, b"")
            kind = _sniff(request.body)
            if kind not in {"image/jpeg", "image/png", "image/gif"}:
                image["status"] = "PROCESSING_FAILED"
                return Reply(400, b"")
            image.update(status="AVAILABLE", bytes=request.body, type=kind)
        return Reply(201, b"")

    # -- inspection -------------------------------------------------------------------------

    def article(self, post: dict[str, Any]) -> dict[str, Any]:
        return ((post.get("content") or {}).get("article")) or {}


def _duplicate(urn: str) -> dict[str, Any]:
    return {
        "errorDetailType": "com.linkedin.common.error.BadRequest",
        "message": f"ERROR :: /commentary :: Content is a duplicate of {urn}",
        "errorDetails": {
            "inputErrors": [
                {"description": "Duplicate post is detected", "input": {}, "code": "DUPLICATE_POST"}
            ]
        },
        "status": 422,
    }
