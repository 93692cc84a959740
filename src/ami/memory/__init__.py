"""Persistent memory: every lived step in one SQLite file that survives restarts and crashes.

`MemoryFormatError` (a corrupt file, not a memory file, or one from a newer ami) is defined with
the other `AmiError`s in `ami.errors` and re-exported here.
"""

from ami.errors import MemoryFormatError, MemoryLookupError
from ami.memory.embedding_index import EmbeddingIndex
from ami.memory.reading import EpisodeSteps, Recalled
from ami.memory.schema import SCHEMA_VERSION
from ami.memory.store import Memory

__all__ = [
    "SCHEMA_VERSION",
    "EmbeddingIndex",
    "EpisodeSteps",
    "Memory",
    "MemoryFormatError",
    "MemoryLookupError",
    "Recalled",
]
