"""Logging set-up: one line per event, text or JSON, with every credential masked.

Masking happens on the final formatted line, so it also covers third-party loggers (httpx,
tweepy, requests-oauthlib and oauthlib print tokens, signatures and URLs at DEBUG) and
tracebacks, whatever they put in their messages.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, TextIO
from urllib.parse import quote, quote_plus

MASK = "***"
_STANDARD_ATTRS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class Redactor:
    """Replaces every known secret (and its URL-encoded forms) with *** in a string."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        forms: set[str] = set()
        for secret in secrets:
            if len(secret) < 4:  # masking "a" everywhere would mangle every line
                continue
            once = quote(secret, safe="")
            # oauthlib's DEBUG signature base string encodes its parameters twice (%252F).
            forms.update({secret, once, quote_plus(secret), quote(secret), quote(once, safe="")})
        self._forms = sorted(forms, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for form in self._forms:
            if form in text:
                text = text.replace(form, MASK)
        if "://" in text and "@" in text:
            text = _URL_PASSWORD.sub(rf"\1{MASK}@", text)
        if "=" in text:
            text = _SECRET_PARAM.sub(rf"\1{MASK}", text)
        if "ignature" in text:  # OAuth 1.0a signatures: oauthlib and requests-oauthlib at DEBUG
            text = _OAUTH_SIGNATURE.sub(rf"\1{MASK}", text)
        return text


_URL_PASSWORD = re.compile(r"(://[^/\s:@]*:)[^/\s@]+@")
"""The password of any URL's userinfo (a feed at https://user:pass@host/, a redirect's)."""
_SECRET_PARAM = re.compile(
    r"([?&;](?:api[_-]?key|apikey|key|token|access[_-]?token|auth|secret|client[_-]?secret|"
    r"password|passwd|pass|pwd|sig|signature|hash)=)[^&#\s\"'<>]+",
    re.IGNORECASE,
)
"""Credential-looking query parameters of any URL (?key=, &token=...): feeds that carry one."""
_OAUTH_SIGNATURE = re.compile(
    r"((?:oauth_signature=\\?\"?|oauth_signature%3D|Signature: ))[^\s\"&,\\]+"
)


class _Formatter(logging.Formatter):
    def __init__(self, redact: Redactor, as_json: bool) -> None:
        super().__init__()
        self.redact = redact
        self.as_json = as_json

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
        fields = {k: v for k, v in vars(record).items() if k not in _STANDARD_ATTRS}
        message = record.getMessage()
        if self.as_json:
            payload: dict[str, Any] = {
                "time": when + "Z",
                "level": record.levelname.lower(),
                "logger": record.name,
                "message": message,
                **{k: _plain(v) for k, v in fields.items()},
            }
            if record.exc_info:
                payload["exception"] = self.formatException(record.exc_info)
            line = json.dumps(payload, ensure_ascii=False, default=str)
        else:
            extras = " ".join(f"{k}={_quote(v)}" for k, v in fields.items() if v is not None)
            line = f"{when}Z {record.levelname:<7} {message}" + (f" {extras}" if extras else "")
            if record.exc_info:
                line += "\n" + self.formatException(record.exc_info)
        return self.redact(line)


def _plain(value: Any) -> Any:
    return value if isinstance(value, (str, int, float, bool, type(None))) else str(value)


def _quote(value: Any) -> str:
    text = str(value)
    return json.dumps(text, ensure_ascii=False) if (" " in text or not text) else text


def configure_logging(
    level: str = "INFO",
    fmt: str = "text",
    secrets: Iterable[str] = (),
    stream: TextIO | None = None,
) -> Redactor:
    """Install one stderr handler on the root logger; returns the redactor for other output."""
    redactor = Redactor(secrets)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(_Formatter(redactor, fmt == "json"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # APScheduler narrates every job run at INFO; keep it to warnings unless debugging.
    logging.getLogger("apscheduler").setLevel(level if level == "DEBUG" else "WARNING")
    logging.getLogger("httpx").setLevel(level if level == "DEBUG" else "WARNING")
    return redactor
