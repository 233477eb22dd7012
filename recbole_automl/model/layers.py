"""Building blocks shared by the plugin's models.

* :data:`INTERACTIONS`: how a user vector and an item vector are combined
  (AutoCF's interaction stage; SIF searches over the same operations).
* :class:`PredictionHead`: how an interaction vector becomes a score.
* :func:`score_matrix`: scores of every (user, item) pair of a batch, for full ranking.
* :class:`ElementwiseMLP`: SIF's small network applied to every embedding coordinate.
* :class:`SparseRows`: the entries of some rows of a sparse matrix, on the model's device.
* :class:`DropsEntries`: the input dropout of history models (Mult-DAE's).
* :class:`HistoryEncoder`: a side's interaction history as a sparse bag of
  embeddings, so memory grows with the number of interactions only.
* :class:`PrunedEmbedding`: PEP's embedding table with learnable pruning thresholds.
"""

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# Element-wise operations map (..., d) x (..., d) -> (..., d); concat -> (..., 2d).
INTERACTIONS = {
    "multiply": torch.mul,
    "minus": torch.sub,
    "plus": torch.add,
    "max": torch.maximum,
    "min": torch.minimum,
    "concat": lambda u, v: torch.cat(torch.broadcast_tensors(u, v), dim=-1),
}


def interaction_dim(interaction, embedding_size):
    """Width of the vector that ``interaction`` produces from two ``embedding_size`` vectors."""
    return 2 * embedding_size if interaction == "concat" else embedding_size


class PredictionHead(nn.Module):
    """Turn interaction vectors (..., dim) into scores (...).

    ``SUM`` adds the coordinates (an all-ones vector), ``VEC`` takes a learned weighted
    sum, ``MLP`` a one-hidden-layer network, ``Norm`` the negative Euclidean norm (a
    distance, as in metric learning, when the interaction is ``minus``).
    """

    KINDS = ("SUM", "VEC", "MLP", "Norm")

    def __init__(self, kind, dim, hidden_size=None):
        super().__init__()
        self.kind = kind
        if kind == "VEC":
            self.weight = nn.Parameter(torch.ones(dim))
        elif kind == "MLP":
            hidden_size = hidden_size or dim
            self.mlp = nn.Sequential(
                nn.Linear(dim, hidden_size), nn.ReLU(), nn.Linear(hidden_size, 1)
            )
        elif kind not in self.KINDS:
            raise ValueError(f"prediction '{kind}' is not one of {list(self.KINDS)}")

    def forward(self, x):
        if self.kind == "SUM":
            return x.sum(dim=-1)
        if self.kind == "VEC":
            return x @ self.weight
        if self.kind == "MLP":
            return self.mlp(x).squeeze(-1)
        return -torch.sqrt((x * x).sum(dim=-1) + 1e-8)


def score_matrix(interaction, head, user_vectors, item_vectors):
    """Scores of every pair: (B, d) users x (N, d) items -> (B, N).

    Args:
        interaction (str): a key of :data:`INTERACTIONS`.
        head (PredictionHead): turns interaction vectors into scores.
    """
    if interaction == "multiply" and head.kind in ("SUM", "VEC"):
        # A (weighted) dot product: one matmul, no (B, N, d) tensor.
        weight = head.weight if head.kind == "VEC" else 1.0
        return (user_vectors * weight) @ item_vectors.T
    return head(INTERACTIONS[interaction](user_vectors.unsqueeze(1), item_vectors.unsqueeze(0)))


class ElementwiseMLP(nn.Module):
    """``Linear(1, h) - Tanh - Linear(h, 1)`` applied to every coordinate of its input.

    SIF (Yao et al., WWW 2020) transforms each embedding coordinate with such a network
    before the interaction, so an operation such as ``plus`` can become a non-linear one.
    Its parameters travel as one flat list (:meth:`flat`, :meth:`load_flat`): the first
    layer's weights and biases, then the second's.
    """

    def __init__(self, hidden_size=8):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(1, hidden_size), nn.Tanh(), nn.Linear(hidden_size, 1))

    def forward(self, x):
        return self.net(x.unsqueeze(-1)).squeeze(-1)

    def flat(self):
        """The parameters as a list of floats (``3 * hidden_size + 1`` of them)."""
        return torch.cat([p.detach().reshape(-1) for p in self.parameters()]).tolist()

    def load_flat(self, values):
        """Set the parameters from :meth:`flat`'s list."""
        values = torch.as_tensor(values, dtype=torch.float)
        sizes = [p.numel() for p in self.parameters()]
        if values.numel() != sum(sizes):
            raise ValueError(f"expected {sum(sizes)} values, got {values.numel()}")
        with torch.no_grad():
            for p, chunk in zip(self.parameters(), values.split(sizes)):
                p.copy_(chunk.reshape(p.shape))


class SparseRows(nn.Module):
    """A sparse matrix as CSR buffers (they follow the model to its device), each row scaled
    by ``|row| ** -alpha``; :meth:`entries` gives the entries of a batch of rows.

    Args:
        matrix (scipy.sparse matrix): rows x columns; repeated entries count once, as 1.
        alpha (float): normalisation exponent (0: the entries as they are).
    """

    def __init__(self, matrix, alpha=0.0):
        super().__init__()
        csr = matrix.tocsr().astype(np.float32)
        csr.sum_duplicates()
        counts = np.diff(csr.indptr)
        scale = np.power(np.maximum(counts, 1), -alpha).astype(np.float32)
        self.shape = csr.shape
        self.register_buffer("indptr", torch.as_tensor(csr.indptr, dtype=torch.long))
        self.register_buffer("indices", torch.as_tensor(csr.indices, dtype=torch.long))
        self.register_buffer("scale", torch.as_tensor(scale))

    def entries(self, rows):
        """(position in ``rows``, column, the row's scale) of every entry of ``rows``."""
        starts, lengths = self.indptr[rows], self.indptr[rows + 1] - self.indptr[rows]
        pair = torch.repeat_interleave(torch.arange(len(rows), device=rows.device), lengths)
        offsets = torch.cumsum(lengths, 0) - lengths
        positions = torch.arange(len(pair), device=rows.device) - offsets[pair] + starts[pair]
        return pair, self.indices[positions], self.scale[rows][pair]

    def matmul(self, rows, dense, entries=None):
        """The scaled ``rows`` of the matrix times ``dense`` (columns x d): (len(rows), d);
        ``entries``: those of :meth:`entries` with other weights (a dropout's). A bag of
        ``dense``'s rows per row (``embedding_bag``: its backward touches only those rows)."""
        pair, column, weight = self.entries(rows) if entries is None else entries
        lengths = self.indptr[rows + 1] - self.indptr[rows]
        offsets = torch.cumsum(lengths, 0) - lengths
        return F.embedding_bag(column, dense, offsets, mode="sum", per_sample_weights=weight)


class DropsEntries(nn.Module):
    """A module that leaves out entries of a sparse history while training (Mult-DAE's input
    dropout, Liang et al., WWW 2018), with probability :attr:`dropout`; the rest are scaled
    by ``1 / (1 - dropout)``. The draw is a hash of (row, column, :attr:`salt`): every call of
    one training step, and every such module of a model given the same salt, sees the same
    entries; the model draws a new :attr:`salt` each step."""

    def __init__(self, dropout=0.0):
        super().__init__()
        self.dropout = dropout
        self.salt = 0

    def dropping(self):
        return self.training and self.dropout > 0

    def kept(self, rows, columns):
        """``1 / (1 - dropout)`` for the entries (rows, columns) this step keeps, else 0."""
        mask = 2**31 - 1
        x = (rows * 1_000_003 + columns * 7_919 + self.salt) & mask
        for _ in range(2):  # a 31-bit integer mix (murmur-like): a uniform draw per entry
            x = ((x ^ (x >> 16)) * 0x45D9F3B) & mask
        x = x ^ (x >> 16)
        keep = (x.float() / 2**31) >= self.dropout
        return keep.float() / (1.0 - self.dropout)


class HistoryEncoder(DropsEntries):
    """Embed each row of a sparse matrix as the normalised sum of its columns' embeddings.

    For a user the row is the set of items they interacted with in the training split
    (FISM's user representation); for an item, the set of its users. Rows are scaled by
    ``|row| ** -alpha``. Only the rows of a batch are touched (``embedding_bag``).

    With ``dropout`` > 0, each entry of a row is left out of the sum with that probability
    while training (:class:`DropsEntries`): every call of one training step (the negatives'
    rows, the positives' pairs and the positive left out of its own row) sees the same
    entries.

    Args:
        matrix (scipy.sparse matrix): rows x columns, 0/1 (or weighted) interactions.
        embedding_size (int): width of the embeddings of the columns.
        alpha (float): normalisation exponent (0: sum, 1: mean).
        dropout (float): the share of a row's entries left out while training.
    """

    def __init__(self, matrix, embedding_size, alpha=0.5, dropout=0.0):
        super().__init__(dropout)
        csr = matrix.tocsr().astype(np.float32)
        csr.sum_duplicates()
        csr.data[:] = 1.0  # a row is a set: repeated interactions count once
        counts = np.diff(csr.indptr)
        scale = np.power(np.maximum(counts, 1), -alpha).astype(np.float32)
        weights = csr.data * np.repeat(scale, counts)
        self.register_buffer("indptr", torch.as_tensor(csr.indptr, dtype=torch.long))
        self.register_buffer("indices", torch.as_tensor(csr.indices, dtype=torch.long))
        self.register_buffer("weights", torch.as_tensor(weights))
        self.register_buffer("scale", torch.as_tensor(scale))
        self.embedding = nn.Embedding(csr.shape[1], embedding_size)

    def forward(self, rows, exclude=None):
        """Embed ``rows``; ``exclude`` (same shape) names one column per row to leave out.

        The excluded column must be in its row: pass it for observed training pairs, so
        that a user's own positive item is not part of their representation (it never is
        at test time).
        """
        # A batch repeats rows (a user with several pairs): embed each distinct row once.
        unique, inverse = torch.unique(rows, return_inverse=True)
        starts, ends = self.indptr[unique], self.indptr[unique + 1]
        lengths = ends - starts
        offsets = torch.cumsum(lengths, 0) - lengths
        positions = torch.arange(int(lengths.sum()), device=rows.device)
        positions = positions - torch.repeat_interleave(offsets - starts, lengths)
        columns, weights = self.indices[positions], self.weights[positions]
        dropping = self.dropping()
        if dropping:
            row_of_entry = torch.repeat_interleave(unique, lengths)
            weights = weights * self.kept(row_of_entry, columns)
        out = F.embedding_bag(
            columns, self.embedding.weight, offsets, mode="sum", per_sample_weights=weights
        )[inverse]
        if exclude is not None:
            scale = self.scale[rows]
            if dropping:  # the left-out entry counts only where the step kept it
                scale = scale * self.kept(rows, exclude)
            out = out - scale.unsqueeze(-1) * self.embedding(exclude)
        return out


# PEP's threshold granularities -> (rows of thresholds: one, per feature or per field;
# columns: one, or one per dimension).
THRESHOLD_GRANULARITIES = {
    "global": ("one", False),
    "dimension": ("one", True),
    "feature": ("feature", False),
    "feature_dim": ("feature", True),
    "field": ("field", False),
    "field_dim": ("field", True),
}


class PrunedEmbedding(nn.Embedding):
    """An embedding table pruned by PEP (Liu et al., ICLR 2021).

    While searching, the table used is ``sign(V) * relu(|V| - sigmoid(s))``: a weight whose
    magnitude is below its learnable threshold ``sigmoid(s)`` is zero, and ``s`` is trained
    with ``V`` (:attr:`threshold`). After :meth:`fix`, the table is ``V * mask``, a fixed
    sparsity to retrain with (the threshold is gone).

    Args:
        table (nn.Embedding): the table to replace (its size and initial weights).
        row_fields (LongTensor): the field of each row (for ``field`` granularities).
        granularity (str): a key of :data:`THRESHOLD_GRANULARITIES`.
        init (float): initial ``s`` (``sigmoid(init)`` is the initial threshold).
    """

    def __init__(self, table, row_fields, granularity, init):
        super().__init__(table.num_embeddings, table.embedding_dim, table.padding_idx)
        with torch.no_grad():
            self.weight.copy_(table.weight)
        rows, per_dimension = THRESHOLD_GRANULARITIES[granularity]
        count = {"one": 1, "feature": table.num_embeddings, "field": int(row_fields.max()) + 1}
        shape = (count[rows], table.embedding_dim if per_dimension else 1)
        self.threshold = nn.Parameter(torch.full(shape, float(init)))
        self.register_buffer("row_fields", row_fields if rows == "field" else None)
        self.register_buffer("mask", None)

    def table(self):
        if self.mask is not None:
            return self.weight * self.mask
        s = self.threshold if self.row_fields is None else self.threshold[self.row_fields]
        return torch.sign(self.weight) * F.relu(self.weight.abs() - torch.sigmoid(s))

    def forward(self, ids):
        return F.embedding(ids, self.table(), self.padding_idx)

    def nonzero(self):
        """The number of non-zero weights of the table in use."""
        with torch.no_grad():
            return int((self.table() != 0).sum())

    def fix(self, mask, in_use=False):
        """Retrain with ``mask`` (bool, the table's shape): ``V * mask``, no threshold;
        ``in_use``: ``V`` becomes the table in use first (shrunk by the threshold if it has
        one: the values the model was scoring with)."""
        with torch.no_grad():
            if in_use:
                self.weight.copy_(self.table())
            self.threshold = None
            self.mask = mask.to(self.weight.dtype)
            self.weight.mul_(self.mask)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # A retrained table's state holds its mask: load it in the fixed (retrain) mode.
        if state_dict.get(prefix + "mask") is not None and self.mask is None:
            self.fix(torch.ones_like(self.weight, dtype=torch.bool))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
