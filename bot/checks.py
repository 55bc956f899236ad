"""`check`: per platform, is it reachable, are the credentials accepted, and what can they do.

A network failure (DNS, refused, TLS, timeout) names the host and the base-URL setting and says
the credentials were not even tried; a refusal names the credential variables. Then what the
credentials allow: for Graph, the token's type, scopes and expiry (debug_token); each adapter
may add its own lines through `Publisher.access_lines` (X: whether it can read its own posts).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from bot.errors import AuthError, NetworkError, PublishError
from bot.platforms import registry

if TYPE_CHECKING:
    from bot.models import TokenInfo
    from bot.platforms.base import Publisher
    from bot.settings import Settings


def _iso(epoch: float | None) -> str | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC).isoformat()[:19] + "Z"


def check_publisher(
    name: str, publisher: Publisher, settings: Settings, now: float
) -> tuple[dict[str, Any], TokenInfo | None]:
    """One platform's row for `check` (JSON-ready), and its token facts where there are any."""
    from bot.tokens import describe_token, read_token

    row: dict[str, Any] = {
        "platform": name,
        "ok": True,
        "account": None,
        "id": None,
        "error": None,
        "problem": None,  # "network" | "credentials" | "platform"
        "host": None,
        "fix": None,
        "access": [],
        "token": None,
    }
    try:
        account = publisher.verify()
    except NetworkError as exc:
        row.update(ok=False, error=exc.message, problem="network", host=exc.host,
                   fix=publisher.base_url_variable or "the network")  # fmt: skip
        return row, None
    except PublishError as exc:
        variables = getattr(exc, "variable", None) or " and ".join(registry.auth_variables(name))
        hint = registry.spec(name).check_hint
        if hint is not None:  # the package knows more about what to fix
            variables = hint(variables, settings.sections)
        problem = "credentials" if isinstance(exc, AuthError) else "platform"
        row.update(ok=False, error=exc.message, problem=problem, fix=variables)
        return row, None
    row.update(account=account.name, id=account.id)
    info = read_token(publisher) if publisher.has_token_info else None
    if info is not None:
        row["token"] = {
            "type": info.type,
            "valid": info.is_valid,
            "scopes": list(info.scopes),
            "expires_at": _iso(info.expires_at),
            "data_access_expires_at": _iso(info.data_access_expires_at),
        }
        row["access"] += describe_token(info, now)
    try:
        row["access"] += publisher.access_lines()
    except PublishError as exc:
        row["access"].append(f"could not tell what the credentials allow: {exc.message}")
    return row, info


def format_row(row: dict[str, Any]) -> list[str]:
    name = row["platform"]
    if row["ok"]:
        lines = [f"{name}: ok, posting as {row['account']} (id {row['id']})"]
        return lines + [f"  {line}" for line in row["access"]]
    if row["problem"] == "network":
        return [
            f"{name}: FAILED, network: {row['error']} (the credentials were not tried; "
            f"check {row['fix']})"
        ]
    if row["problem"] == "credentials":
        return [f"{name}: FAILED, credentials refused: {row['error']} (check {row['fix']})"]
    return [f"{name}: FAILED: {row['error']} (check {row['fix']})"]
