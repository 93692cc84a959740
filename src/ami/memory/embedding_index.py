"""`EmbeddingIndex`: exact nearest neighbours over one model version's embeddings, in memory.

The embeddings live in a float32 matrix `[capacity, D]` that grows by half again when full, so
appending a batch is amortised O(batch) instead of copying the whole matrix (at 1 M steps of
D = 64 a copy is 256 MB). Squared row norms are kept alongside, so a query is one matrix-vector
product, an `argpartition`, and an exact re-ranking of the `k` winners:
`||m - q||² = ||m||² - 2 m·q + ||q||²` selects, `||m - q||` of the selected rows is reported.
"""

from __future__ import annotations

import numpy as np

from ami.errors import ShapeError


class EmbeddingIndex:
    """Step ids `[N]` and their embeddings `float32 [N, D]`, appendable, searchable exactly."""

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self.size = 0
        self._ids = np.zeros(0, np.int64)
        self._matrix = np.zeros((0, dim), np.float32)
        self._norms = np.zeros(0, np.float32)

    @property
    def ids(self) -> np.ndarray:
        """Step ids `int64 [N]`, in the order they were appended."""
        return self._ids[: self.size]

    @property
    def matrix(self) -> np.ndarray:
        """Embeddings `float32 [N, D]` (a view; do not write to it)."""
        return self._matrix[: self.size]

    @property
    def last_id(self) -> int:
        """The largest step id held (0 when empty)."""
        return int(self._ids[: self.size].max()) if self.size else 0

    def append(self, ids: np.ndarray, embeddings: np.ndarray) -> None:
        """Add steps `ids [n]` with `embeddings [n, D]`."""
        embeddings = np.asarray(embeddings, dtype=np.float32).reshape(len(ids), -1)
        if self.size == 0 and embeddings.shape[1] != self.dim:  # the first rows set the size
            self.dim = embeddings.shape[1]
            self._matrix = np.zeros((len(self._ids), self.dim), np.float32)
        if embeddings.shape[1] != self.dim:
            raise ShapeError(
                f"embeddings of size {embeddings.shape[1]} cannot join a memory of size {self.dim}"
                " under the same model version"
            )
        end = self.size + len(ids)
        if end > len(self._ids):
            self._grow(max(end, len(self._ids) * 3 // 2))
        self._ids[self.size : end] = ids
        self._matrix[self.size : end] = embeddings
        self._norms[self.size : end] = np.einsum("nd,nd->n", embeddings, embeddings)
        self.size = end

    def nearest(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The `k` nearest steps to `query [D]`, nearest first.

        Returns ids `[k]` and Euclidean distances `[k]` (fewer when the index holds fewer).
        """
        query = np.asarray(query, dtype=np.float32).reshape(-1)
        if self.size == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        if query.shape[0] != self.dim:
            raise ShapeError(f"recall: z has size {query.shape[0]}, memory holds {self.dim}")
        k = min(k, self.size)
        if k <= 0:
            raise ShapeError(f"recall: k must be positive, got {k}")
        matrix = self.matrix
        squared = self._norms[: self.size] - 2 * (matrix @ query)
        chosen = np.argpartition(squared, k - 1)[:k] if k < self.size else np.arange(self.size)
        distances = np.linalg.norm(matrix[chosen] - query, axis=1)
        order = np.lexsort((self.ids[chosen], distances))  # ties: older step first
        return self.ids[chosen[order]], distances[order]

    def _grow(self, capacity: int) -> None:
        ids = np.zeros(capacity, np.int64)
        matrix = np.zeros((capacity, self.dim), np.float32)
        norms = np.zeros(capacity, np.float32)
        ids[: self.size] = self.ids
        matrix[: self.size] = self.matrix
        norms[: self.size] = self._norms[: self.size]
        self._ids, self._matrix, self._norms = ids, matrix, norms
