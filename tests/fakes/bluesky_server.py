"""A fake Bluesky PDS speaking XRPC as the reference PDS (bluesky-social/atproto) does.

What it checks, as the real one does (networks.md section 2):
* sessions: createSession with handle or DID and app password (401 AuthenticationRequired),
  30 log-ins per 5 minutes (429); refreshSession with the refresh token; an expired access token
  is 400 ExpiredToken "Token has expired", a revoked refresh token 400 ExpiredToken "Token has
  been revoked", an unknown token 400 InvalidToken, none 401 AuthMissing;
* app.bsky.feed.post records: text <= 300 graphemes and <= 3,000 UTF-8 bytes, createdAt,
  facets with UTF-8 byte ranges inside the text and not overlapping, mention DIDs, external
  embeds whose thumb is a blob uploaded here (image/*, <= 1,000,000 bytes), langs <= 3;
  a bad record is 400 InvalidRequest "Invalid app.bsky.feed.post record: ...";
* record keys: a client-chosen rkey must be a TID; createRecord on a taken key is a 500
  InternalServerError (the reference PDS's generic answer); putRecord of a byte-identical
  record is a no-op 200 with the same uri and cid; swapRecord null on a taken key with other
  content is 400 InvalidSwap;
* getRecord (400 RecordNotFound), listRecords (newest first, cursor), resolveHandle (400
  InvalidRequest "Unable to resolve handle"), uploadBlob (raw bytes, content-addressed);
* rate-limit headers on every answer (RateLimit-Limit/-Remaining/-Reset/-Policy), points as
  the PDS charges them (create 3, update 2).

Duplicates are accepted as the real PDS accepts them: the same text twice, without a chosen
key, is two posts. Tests count `server.bsky_posts`.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import re
from datetime import datetime
from typing import Any

import regex

from tests.fakes.http_fake import RecordedRequest, Reply
from tests.fakes.platform_server import FakePlatformServer

TID = re.compile(r"^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$")
POST = "app.bsky.feed.post"
_S32 = "234567abcdefghijklmnopqrstuvwxyz"
MAX_GRAPHEMES, MAX_BYTES, MAX_THUMB = 300, 3000, 1_000_000
LOGINS_PER_5_MIN = 30
POINTS_PER_HOUR = 5000


def xrpc_error(name: str, message: str) -> dict[str, str]:
    return {"error": name, "message": message}


def cid_of(data: bytes, prefix: str = "bafyrei") -> str:
    """A stand-in CID: content-addressed like the real one (same bytes, same CID)."""
    digest = base64.b32encode(hashlib.sha256(data).digest()).decode().lower().rstrip("=")
    return prefix + digest[:52]


def graphemes(text: str) -> int:
    return len(regex.findall(r"\X", text))


class BlueskyServer(FakePlatformServer):
    """X, Graph and a Bluesky PDS on one port; Bluesky state is `bsky_*`."""

    def __init__(
        self,
        *,
        bsky_handle: str = "jckmagazine.bsky.social",
        bsky_did: str = "did:plc:jckmagazine0000000000000",
        bsky_password: str = "abcd-efgh-ijkl-mnop",
        bsky_pds: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.bsky_handle, self.bsky_did, self.bsky_password = bsky_handle, bsky_did, bsky_password
        self.bsky_pds = bsky_pds
        """The PDS endpoint the DID document names (None: this server's base URL)."""
        self.bsky_handles: dict[str, str] = {bsky_handle: bsky_did}
        """Every handle resolveHandle knows, to its DID."""
        self.bsky_records: dict[str, dict[str, Any]] = {}
        """rkey -> {"uri", "cid", "value", "at"} of the account's posts."""
        self.bsky_posts: list[dict[str, Any]] = []
        """Every post record created, in order (a no-op putRecord adds nothing)."""
        self.bsky_blobs: dict[str, tuple[bytes, str]] = {}
        self.bsky_logins: list[float] = []
        self.bsky_refreshes = 0
        self.bsky_tokens: dict[str, str] = {}
        """token -> "access" | "refresh" | "expired" | "revoked"."""
        self.bsky_points = POINTS_PER_HOUR
        self._tokens = itertools.count(1)
        self._tids = itertools.count(1)

    # -- controls ---------------------------------------------------------------------------

    def bsky_expire_access(self) -> None:
        """Every access token in use expires (the next call answers ExpiredToken)."""
        with self._lock:
            for token, kind in self.bsky_tokens.items():
                if kind == "access":
                    self.bsky_tokens[token] = "expired"

    def bsky_revoke_refresh(self) -> None:
        with self._lock:
            for token, kind in self.bsky_tokens.items():
                if kind == "refresh":
                    self.bsky_tokens[token] = "revoked"

    def bsky_url(self, rkey: str) -> str:
        return f"https://bsky.app/profile/{self.bsky_handle}/post/{rkey}"

    # -- dispatch ---------------------------------------------------------------------------

    def handle(self, request: RecordedRequest) -> Reply:
        if not request.path.startswith("/xrpc/"):
            return super().handle(request)
        reply = self._bsky(request, request.path[len("/xrpc/") :])
        reply.headers = {**self._bsky_rate_headers(), **reply.headers}
        return reply

    def _bsky_rate_headers(self) -> dict[str, str]:
        return {
            "RateLimit-Limit": str(POINTS_PER_HOUR),
            "RateLimit-Remaining": str(max(0, self.bsky_points)),
            "RateLimit-Reset": str(int(self.clock()) + 3600),
            "RateLimit-Policy": f"{POINTS_PER_HOUR};w=3600",
        }

    def _bsky(self, request: RecordedRequest, nsid: str) -> Reply:
        if (request.method, nsid) == ("POST", "com.atproto.server.createSession"):
            return self._create_session(request)
        if (request.method, nsid) == ("POST", "com.atproto.server.refreshSession"):
            return self._refresh_session(request)
        if (request.method, nsid) == ("GET", "com.atproto.repo.listRecords"):
            return self._list_records(request.params())  # public, as on the real PDS
        refused = self._auth(request, "access")
        if refused is not None:
            return refused
        routes = {
            ("GET", "com.atproto.identity.resolveHandle"): self._resolve_handle,
            ("POST", "com.atproto.repo.uploadBlob"): self._upload_blob,
            ("POST", "com.atproto.repo.createRecord"): self._create_record,
            ("POST", "com.atproto.repo.putRecord"): self._put_record,
            ("GET", "com.atproto.repo.getRecord"): self._get_record,
            ("GET", "app.bsky.actor.getProfile"): self._get_profile,
            ("GET", "com.atproto.server.getSession"): self._get_session,
        }
        route = routes.get((request.method, nsid))
        if route is None:
            return Reply(501, xrpc_error("MethodNotImplemented", f"Method Not Implemented: {nsid}"))
        return route(request)

    # -- sessions ---------------------------------------------------------------------------

    def _auth(self, request: RecordedRequest, wanted: str) -> Reply | None:
        header = request.headers.get("authorization", "")
        if not header.startswith("Bearer "):
            return Reply(401, xrpc_error("AuthMissing", "Authentication Required"))
        kind = self.bsky_tokens.get(header[len("Bearer ") :])
        if kind == "expired" and wanted == "access":
            return Reply(400, xrpc_error("ExpiredToken", "Token has expired"))
        if kind == "revoked" and wanted == "refresh":
            return Reply(400, xrpc_error("ExpiredToken", "Token has been revoked"))
        if kind != wanted:
            return Reply(400, xrpc_error("InvalidToken", "Token could not be verified"))
        return None

    def _new_session(self) -> dict[str, Any]:
        n = next(self._tokens)
        access, refresh = f"eyJ.access.{n}", f"eyJ.refresh.{n}"
        with self._lock:
            self.bsky_tokens[access], self.bsky_tokens[refresh] = "access", "refresh"
        pds = self.bsky_pds or self.base_url
        did_doc = {
            "@context": ["https://www.w3.org/ns/did/v1"],
            "id": self.bsky_did,
            "alsoKnownAs": [f"at://{self.bsky_handle}"],
            "service": [
                {"id": "#atproto_pds", "type": "AtprotoPersonalDataServer", "serviceEndpoint": pds}
            ],
        }
        return {
            "accessJwt": access,
            "refreshJwt": refresh,
            "handle": self.bsky_handle,
            "did": self.bsky_did,
            "didDoc": did_doc,
            "active": True,
        }

    def _create_session(self, request: RecordedRequest) -> Reply:
        now = self.clock()
        with self._lock:
            recent = [t for t in self.bsky_logins if t > now - 300]
            if len(recent) >= LOGINS_PER_5_MIN:
                headers = {
                    "RateLimit-Limit": str(LOGINS_PER_5_MIN),
                    "RateLimit-Remaining": "0",
                    "RateLimit-Reset": str(int(min(recent)) + 300),
                    "RateLimit-Policy": f"{LOGINS_PER_5_MIN};w=300",
                }
                return Reply(429, xrpc_error("RateLimitExceeded", "Rate Limit Exceeded"), headers)
            self.bsky_logins.append(now)
        try:
            body = request.json()
        except ValueError:
            return Reply(400, xrpc_error("InvalidRequest", "Request body is not JSON"))
        if not isinstance(body, dict) or not body.get("identifier") or not body.get("password"):
            return Reply(400, xrpc_error("InvalidRequest", "Input must have the property"))
        who = str(body["identifier"]).lower().lstrip("@")
        if who not in (self.bsky_handle, self.bsky_did) or body["password"] != self.bsky_password:
            return Reply(
                401, xrpc_error("AuthenticationRequired", "Invalid identifier or password")
            )
        return Reply(200, self._new_session())

    def _refresh_session(self, request: RecordedRequest) -> Reply:
        refused = self._auth(request, "refresh")
        if refused is not None:
            return refused
        with self._lock:
            self.bsky_refreshes += 1
            self.bsky_tokens[request.headers["authorization"][len("Bearer ") :]] = "revoked"
        return Reply(200, self._new_session())

    def _get_session(self, request: RecordedRequest) -> Reply:
        body = {"did": self.bsky_did, "handle": self.bsky_handle, "active": True}
        return Reply(200, {**body, "emailConfirmed": True})

    def _get_profile(self, request: RecordedRequest) -> Reply:
        actor = request.params().get("actor", "")
        if actor not in (self.bsky_handle, self.bsky_did):
            return Reply(400, xrpc_error("InvalidRequest", "Profile not found"))
        return Reply(200, {"did": self.bsky_did, "handle": self.bsky_handle, "postsCount": 0})

    def _resolve_handle(self, request: RecordedRequest) -> Reply:
        did = self.bsky_handles.get(request.params().get("handle", "").lower())
        if did is None:
            return Reply(400, xrpc_error("InvalidRequest", "Unable to resolve handle"))
        return Reply(200, {"did": did})

    # -- blobs and records ------------------------------------------------------------------

    def _upload_blob(self, request: RecordedRequest) -> Reply:
        mime = request.headers.get("content-type", "application/octet-stream")
        if len(request.body) > 5 * 1024 * 1024:
            return Reply(413, xrpc_error("PayloadTooLarge", "request entity too large"))
        ref = cid_of(request.body, "bafkrei")
        with self._lock:
            self.bsky_blobs[ref] = (request.body, mime)
        blob = {"$type": "blob", "ref": {"$link": ref}, "mimeType": mime, "size": len(request.body)}
        return Reply(200, {"blob": blob})

    def _write_input(self, request: RecordedRequest) -> tuple[dict[str, Any], Reply | None]:
        try:
            body = request.json()
        except ValueError:
            return {}, Reply(400, xrpc_error("InvalidRequest", "Request body is not JSON"))
        if not isinstance(body, dict) or body.get("repo") not in (self.bsky_did, self.bsky_handle):
            return {}, Reply(400, xrpc_error("InvalidRequest", "Invalid repo"))
        if body.get("collection") != POST:
            return {}, Reply(400, xrpc_error("InvalidRequest", "Unsupported collection"))
        rkey = body.get("rkey")
        if rkey is not None and not TID.fullmatch(str(rkey)):
            return {}, Reply(400, xrpc_error("InvalidRequest", f"Invalid TID: {rkey}"))
        problem = self._invalid_post(body.get("record"))
        if problem:
            return {}, Reply(
                400, xrpc_error("InvalidRequest", f"Invalid app.bsky.feed.post record: {problem}")
            )
        return body, None

    def _store(self, rkey: str, record: dict[str, Any], points: int) -> dict[str, Any]:
        cid = cid_of(json.dumps(record, sort_keys=True, separators=(",", ":")).encode())
        uri = f"at://{self.bsky_did}/{POST}/{rkey}"
        entry = {"uri": uri, "cid": cid, "value": record, "at": self.clock()}
        with self._lock:
            self.bsky_records[rkey] = entry
            self.bsky_posts.append({"rkey": rkey, **entry})
            self.bsky_points -= points
        return entry

    def _answer(self, entry: dict[str, Any]) -> Reply:
        commit = {"cid": cid_of(entry["cid"].encode()), "rev": "3l" + entry["cid"][-11:]}
        body = {"uri": entry["uri"], "cid": entry["cid"], "commit": commit}
        return Reply(200, {**body, "validationStatus": "valid"})

    def _next_tid(self) -> str:
        """A key the server chooses (written out here, independently of the bot's own)."""
        value = (int(self.clock() * 1e6) + next(self._tids)) << 10
        return "".join(_S32[(value >> (5 * i)) & 31] for i in reversed(range(13)))

    def _create_record(self, request: RecordedRequest) -> Reply:
        body, refused = self._write_input(request)
        if refused is not None:
            return refused
        rkey = str(body.get("rkey") or self._next_tid())
        with self._lock:
            if rkey in self.bsky_records:  # the reference PDS's unhandled conflict
                return Reply(500, xrpc_error("InternalServerError", "Internal Server Error"))
            return self._answer(self._store(rkey, body["record"], 3))

    def _put_record(self, request: RecordedRequest) -> Reply:
        body, refused = self._write_input(request)
        if refused is not None:
            return refused
        if not body.get("rkey"):
            return Reply(400, xrpc_error("InvalidRequest", "Input must have the property rkey"))
        rkey = str(body["rkey"])
        record = body["record"]
        cid = cid_of(json.dumps(record, sort_keys=True, separators=(",", ":")).encode())
        with self._lock:
            current = self.bsky_records.get(rkey)
            if current is not None and current["cid"] == cid:
                return Reply(200, {"uri": current["uri"], "cid": cid})  # no commit: a no-op
            swap = body.get("swapRecord", "absent")
            if current is not None and swap is None:
                return Reply(400, xrpc_error("InvalidSwap", f"Record was at {current['cid']}"))
            if current is not None and swap not in ("absent", current["cid"]):
                return Reply(400, xrpc_error("InvalidSwap", f"Record was at {current['cid']}"))
            return self._answer(self._store(rkey, record, 2))

    def _get_record(self, request: RecordedRequest) -> Reply:
        params = request.params()
        rkey = params.get("rkey", "")
        entry = self.bsky_records.get(rkey) if params.get("collection") == POST else None
        if params.get("repo") not in (self.bsky_did, self.bsky_handle) or entry is None:
            uri = f"at://{params.get('repo')}/{params.get('collection')}/{rkey}"
            return Reply(400, xrpc_error("RecordNotFound", f"Could not locate record: {uri}"))
        return Reply(200, {"uri": entry["uri"], "cid": entry["cid"], "value": entry["value"]})

    def _list_records(self, params: dict[str, str]) -> Reply:
        if params.get("repo") not in (self.bsky_did, self.bsky_handle):
            return Reply(400, xrpc_error("InvalidRequest", "Could not find repo"))
        limit = int(params.get("limit") or 50)
        if not 1 <= limit <= 100:
            return Reply(400, xrpc_error("InvalidRequest", "limit must be 1..100"))
        keys = sorted(self.bsky_records, reverse=params.get("reverse") != "true")
        cursor = params.get("cursor")
        if cursor:
            keys = [
                k for k in keys if (k < cursor if params.get("reverse") != "true" else k > cursor)
            ]
        page = keys[:limit]
        records = [
            {k: self.bsky_records[rkey][k] for k in ("uri", "cid", "value")} for rkey in page
        ]
        answer: dict[str, Any] = {"records": records}
        if len(page) == limit:
            answer["cursor"] = page[-1]
        return Reply(200, answer)

    # -- validation (the lexicon's rules the adapter must meet) -----------------------------

    def _invalid_post(self, record: Any) -> str | None:
        if not isinstance(record, dict) or record.get("$type") != POST:
            return "Record/$type must be app.bsky.feed.post"
        text = record.get("text")
        if not isinstance(text, str):
            return 'Record must have the property "text"'
        if graphemes(text) > MAX_GRAPHEMES:
            return f"Record/text must not be longer than {MAX_GRAPHEMES} graphemes"
        if len(text.encode()) > MAX_BYTES:
            return f"Record/text must not be longer than {MAX_BYTES} characters"
        try:
            datetime.fromisoformat(str(record.get("createdAt")).replace("Z", "+00:00"))
        except ValueError:
            return "Record/createdAt must be an valid atproto datetime"
        langs = record.get("langs", [])
        if not isinstance(langs, list) or len(langs) > 3:
            return "Record/langs must not have more than 3 elements"
        return self._invalid_facets(text, record.get("facets", [])) or self._invalid_embed(
            record.get("embed")
        )

    def _invalid_facets(self, text: str, facets: Any) -> str | None:
        size = len(text.encode())
        ranges: list[tuple[int, int]] = []
        for n, facet in enumerate(facets if isinstance(facets, list) else [None]):
            index = facet.get("index", {}) if isinstance(facet, dict) else {}
            start, end = index.get("byteStart"), index.get("byteEnd")
            if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= size):
                return f"Record/facets/{n}/index is out of range"
            ranges.append((start, end))
            for feature in facet.get("features") or [None]:
                kind = feature.get("$type") if isinstance(feature, dict) else None
                if kind == "app.bsky.richtext.facet#link":
                    if not str(feature.get("uri", "")).startswith(("http://", "https://")):
                        return f"Record/facets/{n}/features/0/uri must be a valid uri"
                elif kind == "app.bsky.richtext.facet#mention":
                    if not str(feature.get("did", "")).startswith("did:"):
                        return f"Record/facets/{n}/features/0/did must be a valid did"
                elif kind == "app.bsky.richtext.facet#tag":
                    tag = str(feature.get("tag", ""))
                    if not tag or graphemes(tag) > 64 or len(tag.encode()) > 640:
                        return f"Record/facets/{n}/features/0/tag must be 1..64 graphemes"
                else:
                    return f"Record/facets/{n}/features/0 has an unknown $type"
        ranges.sort()
        if any(a[1] > b[0] for a, b in itertools.pairwise(ranges)):
            return "Record/facets overlap"
        return None

    def _invalid_embed(self, embed: Any) -> str | None:
        if embed is None:
            return None
        if not isinstance(embed, dict) or embed.get("$type") != "app.bsky.embed.external":
            return "Record/embed has an unsupported $type"
        external = embed.get("external")
        if not isinstance(external, dict):
            return "Record/embed/external must be an object"
        for name in ("uri", "title", "description"):
            if not isinstance(external.get(name), str):
                return f'Record/embed/external must have the property "{name}"'
        thumb = external.get("thumb")
        if thumb is not None:
            ref = (thumb.get("ref") or {}).get("$link") if isinstance(thumb, dict) else None
            blob = self.bsky_blobs.get(str(ref))
            if blob is None:
                return "Record/embed/external/thumb: Could not find blob"
            if not str(thumb.get("mimeType", "")).startswith("image/"):
                return "Record/embed/external/thumb mimeType is not accepted"
            if len(blob[0]) > MAX_THUMB:
                return f"Record/embed/external/thumb is too big (max {MAX_THUMB} bytes)"
        return None
