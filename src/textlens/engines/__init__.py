"""OCR engines: the interface, the registry, and the built-in engines."""

from .base import Engine
from .registry import ENTRY_POINT_GROUP, create, discover, engine_class

__all__ = ["ENTRY_POINT_GROUP", "Engine", "create", "discover", "engine_class"]
