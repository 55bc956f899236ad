"""Persistence: the schema, its migrations and the repository the engine talks to."""

from bot.store.repository import Store
from bot.store.rows import DeliveryRow, FeedRow, FeedUpdate, NewDelivery, worker_id

__all__ = ["DeliveryRow", "FeedRow", "FeedUpdate", "NewDelivery", "Store", "worker_id"]
