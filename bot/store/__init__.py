"""Persistence: the schema, its migrations and the repository the engine talks to."""

from bot.store.repository import DeliveryRow, FeedRow, NewDelivery, Store, worker_id

__all__ = ["DeliveryRow", "FeedRow", "NewDelivery", "Store", "worker_id"]
