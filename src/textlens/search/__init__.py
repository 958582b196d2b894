"""Full-text search: the Tantivy index fed from the database outbox, the query syntax, results."""

from .index import SearchIndex
from .searcher import search

__all__ = ["SearchIndex", "search"]
