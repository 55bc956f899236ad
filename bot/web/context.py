"""What the web face needs from the rest of the bot, built once by the command that serves."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot.compose import Composer
from bot.models import Limits
from bot.settings import Settings
from bot.store import Store

if TYPE_CHECKING:
    from bot.engine import Engine


@dataclass
class WebContext:
    settings: Settings
    store: Store
    composer: Composer
    limits: dict[str, Limits]
    engine: Engine | None = None
    """For WebSub pushes: the same ingestion as a poll."""
    kick: Callable[[], None] | None = None
    """Wake the workers (after an approval or a push): sent in seconds, not at their next
    drain. Under `run` it wakes this process's worker; under `web` alone, the workers elsewhere
    through the store (bot.wakeup)."""
    push: Callable[[str, bytes, str | None], None] | None = None
    """Hand a verified WebSub push to the worker of this process (serialised with its ticks);
    None: ingest it here, in the web process."""
    clock: Callable[[], float] = field(default=time.time)
