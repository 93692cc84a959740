"""Persistent memory: every lived step in one SQLite file that survives restarts and crashes."""

from ami.memory.schema import SCHEMA_VERSION
from ami.memory.store import Memory, Recalled

__all__ = ["SCHEMA_VERSION", "Memory", "Recalled"]
