"""The XRPC edge: a session (log in once, refresh on `ExpiredToken`), one request per call.

Plain httpx on the bot's shared client (its timeouts, proxies, network policy): the atproto SDK
would bring pydantic models for the ~6 calls we make and log in with an extra profile read.

Logging in (`createSession`) is limited to 30 per 5 minutes and 300 a day per account, so a
session is kept (in the platform's key-value state, the store's when the engine hands it over,
so a `poll` run from cron every few minutes does not log in each time) and renewed with its
refresh token (`refreshSession`) when a call answers 400 `ExpiredToken`; only when the refresh
itself is refused does it log in again.
Replaying the call that was refused for an expired token is not a second attempt: a refused
call had no effect. Calls go to the account's own PDS, named in the session's DID document.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from bot.errors import NetworkError, Transient
from bot.netfail import classify, describe
from bot.platforms.bluesky.errors import PLATFORM, error_name, map_error
from bot.platforms.state import KeyValue, Memory
from bot.settings_values import Secret

_RENEW = frozenset({"ExpiredToken", "InvalidToken"})
SESSION_KEY = "bluesky.session"


@dataclass(frozen=True, slots=True)
class Session:
    did: str
    handle: str
    access: str
    refresh: str
    pds: str
    """Where the account's repository lives (scheme, host, port): every call after log-in."""


def pds_endpoint(did_doc: Any, service: str) -> str:
    """The `#atproto_pds` endpoint of a DID document, when it is a URL we may call: https, or
    the scheme of the configured service (a local test PDS). Else the service itself."""
    services = did_doc.get("service") if isinstance(did_doc, dict) else None
    for entry in services if isinstance(services, list) else []:
        if not isinstance(entry, dict) or not str(entry.get("id", "")).endswith("#atproto_pds"):
            continue
        endpoint = str(entry.get("serviceEndpoint") or "").rstrip("/")
        parts = urlsplit(endpoint)
        allowed = parts.scheme in ("https", urlsplit(service).scheme)
        if parts.hostname and allowed and not parts.path and not parts.query:
            return endpoint
    return service


class Xrpc:
    """One account's XRPC client. Every failure leaves as a `bot.errors` PublishError."""

    def __init__(
        self,
        *,
        service: str,
        identifier: str,
        password: Secret,
        http: httpx.Client,
        clock: Callable[[], float] = time.time,
        state: KeyValue | None = None,
    ) -> None:
        self.service = service.rstrip("/")
        self.identifier = identifier
        self._password = password
        self.http = http
        self.clock = clock
        self.state: KeyValue = state if state is not None else Memory()
        self.session: Session | None = None
        self._looked = False
        """Whether the kept session was looked up: on the first call, not here (the store's
        state is handed over after the publishers are built)."""

    def _stored(self) -> Session | None:
        """The session an earlier run kept, when it is for this account on this service."""
        try:
            kept = json.loads(self.state.get_meta(SESSION_KEY) or "null")
        except ValueError:
            return None
        if not isinstance(kept, dict) or kept.pop("for", None) != [self.service, self.identifier]:
            return None
        try:
            return Session(**{k: str(kept[k]) for k in Session.__dataclass_fields__})
        except KeyError:
            return None

    def _keep(self, session: Session) -> Session:
        self.session = session
        kept = {**asdict(session), "for": [self.service, self.identifier]}
        self.state.set_meta(SESSION_KEY, json.dumps(kept))
        return session

    # --- session ----------------------------------------------------------------------------

    def login(self) -> Session:
        """createSession with the app password (the only call that uses it)."""
        answer = self._answer(
            "com.atproto.server.createSession",
            self._send(
                "POST",
                f"{self.service}/xrpc/com.atproto.server.createSession",
                json={"identifier": self.identifier, "password": self._password.reveal()},
            ),
        )
        return self._keep(self._session(answer, self.service))

    def _refresh(self, session: Session) -> Session:
        """refreshSession with the refresh token; a refused refresh logs in again."""
        response = self._send(
            "POST",
            f"{session.pds}/xrpc/com.atproto.server.refreshSession",
            headers={"Authorization": f"Bearer {session.refresh}"},
        )
        if response.status_code in (400, 401) and error_name(_json(response)) in (
            *_RENEW,
            "AuthenticationRequired",
        ):
            return self.login()
        answer = self._answer("com.atproto.server.refreshSession", response)
        return self._keep(self._session(answer, session.pds, did_doc_optional=True))

    def _session(
        self, answer: dict[str, Any], pds: str, *, did_doc_optional: bool = False
    ) -> Session:
        try:
            did, handle = str(answer["did"]), str(answer["handle"])
            access, refresh = str(answer["accessJwt"]), str(answer["refreshJwt"])
        except KeyError as exc:
            raise Transient(PLATFORM, f"the session answer has no {exc.args[0]!r}") from None
        if "didDoc" in answer or not did_doc_optional:
            pds = pds_endpoint(answer.get("didDoc"), self.service)
        return Session(did, handle, access, refresh, pds)

    def current(self) -> Session:
        if self.session is None and not self._looked:
            self._looked = True
            self.session = self._stored()
        return self.session or self.login()

    # --- calls ------------------------------------------------------------------------------

    def query(self, nsid: str, params: Mapping[str, str | int]) -> dict[str, Any]:
        """An authenticated GET (a `query` in XRPC terms)."""
        return self._call("GET", nsid, params=dict(params))

    def procedure(
        self, nsid: str, body: dict[str, Any] | bytes, content_type: str = "application/json"
    ) -> dict[str, Any]:
        """An authenticated POST of JSON or of raw bytes (a blob)."""
        if isinstance(body, bytes):
            return self._call("POST", nsid, content=body, headers={"Content-Type": content_type})
        return self._call("POST", nsid, json=body)

    def raw_query(self, nsid: str, params: Mapping[str, str | int]) -> httpx.Response:
        """An authenticated GET whose answer the caller reads itself (a 400 RecordNotFound is
        an answer to `getRecord`, not a failure)."""
        return self._authed("GET", nsid, params=dict(params))

    def answer(self, nsid: str, response: httpx.Response) -> dict[str, Any]:
        return self._answer(nsid, response)

    def _call(self, method: str, nsid: str, **kwargs: Any) -> dict[str, Any]:
        return self._answer(nsid, self._authed(method, nsid, **kwargs))

    def _authed(self, method: str, nsid: str, **kwargs: Any) -> httpx.Response:
        session = self.current()
        response = self._send(method, f"{session.pds}/xrpc/{nsid}", **_bearer(kwargs, session))
        if response.status_code in (400, 401) and error_name(_json(response)) in _RENEW:
            session = self._refresh(session)
            response = self._send(method, f"{session.pds}/xrpc/{nsid}", **_bearer(kwargs, session))
        return response

    def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        nsid = url.rsplit("/", 1)[-1]
        try:
            return self.http.request(method, url, **kwargs)
        except httpx.TimeoutException:
            raise self._unreachable("timeout", url, nsid) from None
        except httpx.TransportError as exc:
            raise self._unreachable(classify(exc), url, nsid, exc) from None
        except httpx.HTTPError as exc:
            raise Transient(PLATFORM, f"{nsid} failed: {type(exc).__name__}") from None

    def _unreachable(
        self, kind: str, url: str, nsid: str, exc: BaseException | None = None
    ) -> NetworkError:
        host = urlsplit(url).netloc
        detail = type(exc).__name__ if exc is not None and kind in ("tls", "other") else ""
        return NetworkError(
            PLATFORM, f"{nsid}: {describe(kind, host, detail)}", host=host, kind=kind
        )

    def _answer(self, nsid: str, response: httpx.Response) -> dict[str, Any]:
        payload = _json(response)
        if response.status_code >= 400:
            raise map_error(response.status_code, payload, response.headers, self.clock())
        if not isinstance(payload, dict):
            raise Transient(
                PLATFORM, f"{nsid} answered HTTP {response.status_code} without a JSON object"
            )
        return payload


def _bearer(kwargs: dict[str, Any], session: Session) -> dict[str, Any]:
    headers = {**kwargs.get("headers", {}), "Authorization": f"Bearer {session.access}"}
    return {**kwargs, "headers": headers}


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def field(answer: Mapping[str, Any], name: str) -> str:
    """A field a successful answer must have; a 2xx without it is broken, not a success."""
    value = answer.get(name)
    if not isinstance(value, str) or not value:
        raise Transient(PLATFORM, f"Bluesky answered without {name!r}")
    return value
