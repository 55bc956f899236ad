"""The spend part of `status` and of notifications: what posts cost this month against
X_MONTHLY_BUDGET.

Reads the store's spend rows only (no platform client), so `status` stays light. A budget that
holds posts back is a health reason (`status` exits 1, and `bot.notify` sends "budget reached");
80% of it is a warning notification of its own, once a month.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot import health
from bot.health import Reason
from bot.platforms import registry
from bot.settings import Settings
from bot.store import Store
from bot.store.spend import SpendStore

WARN_AT = 0.8


def spend_status(spend: SpendStore, settings: Settings, now: float) -> dict[str, Any]:
    """{"month": "2026-12", "platforms": {name: {spent_usd, posts, budget_usd, percent}}}."""
    month = datetime.fromtimestamp(now, UTC).strftime("%Y-%m")
    spent = spend.spend_by_month(month)
    budget = settings.reach.spend.monthly_budget
    charging = registry.charging()
    names = sorted(set(spent) | ({charging} if charging in settings.platforms else set()))
    platforms: dict[str, Any] = {}
    for name in names:
        usd, posts = spent.get(name, (0.0, 0))
        cap = budget if name == charging else None
        platforms[name] = {
            "spent_usd": round(usd, 4),
            "posts": posts,
            "budget_usd": cap,
            "percent": round(100 * usd / cap, 1) if cap else None,
        }
    return {"month": month, "platforms": platforms}


def format_spend(spend: dict[str, Any]) -> list[str]:
    lines = []
    for name, s in spend["platforms"].items():
        if s["budget_usd"] is None:
            cap = "no monthly budget set (X_MONTHLY_BUDGET)"
        else:
            cap = f"of ${s['budget_usd']:.2f} ({s['percent']:.0f}%)"
        lines.append(
            f"{name} budget: ${s['spent_usd']:.2f} spent in {spend['month']} "
            f"on {s['posts']} posts, {cap}"
        )
    return lines


def _budget_state(
    spend: SpendStore, settings: Settings, now: float
) -> tuple[str, float, float] | None:
    """(month, spent, budget) for X when a budget is set and X is in use; else None."""
    budget = settings.reach.spend.monthly_budget
    charging = registry.charging()
    if budget is None or charging is None or charging not in settings.platforms:
        return None
    month = datetime.fromtimestamp(now, UTC).strftime("%Y-%m")
    return month, spend.spent_in_month(charging, month), budget


def budget_reasons(store: Store, settings: Settings, now: float) -> list[Reason]:
    """A health reason while the budget holds X posts back: the next post would not fit."""
    state = _budget_state(store.spend, settings, now)
    if state is None:
        return []
    month, spent, budget = state
    spend = settings.reach.spend
    price = spend.price_post_url if spend.link_mode == "inline" else spend.price_post
    if spent + price <= budget + 1e-9:
        return []
    text = (
        f"X_MONTHLY_BUDGET of ${budget:.2f} reached in {month} (${spent:.2f} spent): "
        "X posts wait for the 1st of next month (UTC); raise X_MONTHLY_BUDGET to send them now"
    )
    return [Reason("budget", text, platform=registry.charging())]


def budget_warnings(spend: SpendStore, settings: Settings, now: float) -> list[tuple[str, str]]:
    """(once-key, message) when 80% of the month's budget is spent, for a notification."""
    state = _budget_state(spend, settings, now)
    if state is None:
        return []
    month, spent, budget = state
    if spent < WARN_AT * budget - 1e-9:
        return []
    message = (
        f"{spent / budget:.0%} of X_MONTHLY_BUDGET spent in {month}: ${spent:.2f} of "
        f"${budget:.2f}; X posts wait for next month once it is reached"
    )
    return [(f"budget80:{registry.charging()}:{month}", message)]


health.EXTRA_CHECKS.append(budget_reasons)
