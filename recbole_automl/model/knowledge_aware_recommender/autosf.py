r"""AutoSF: a KG-aware recommender scored by a searched bilinear function.

Reference:
    Yongqi Zhang, Quanming Yao, Wenyuan Dai, Lei Chen. "AutoSF: Searching Scoring Functions
    for Knowledge Graph Embedding." ICDE 2020. (The IJCAI-21 tutorial "Automated
    Recommender System", Yao, Li, Gao, Zhao, Zhang, part 4.)

The CFKG view of recommendation (Ai et al., 2018): users, items and KG entities share one
embedding space, and "interacts" is one more relation of the graph. Every embedding is cut
into 4 blocks; a scoring function is a 4 x 4 *structure* ``A`` of integers in -4..4, and

    f(h, r, t) = sum over (i, j) with A[i][j] != 0 of  sign(A[i][j]) * <h_i, r_|A[i][j]|, t_j>

(``<a, b, c>`` the sum of the element-wise product). DistMult, ComplEx, Analogy and SimplE
are points of this space (:data:`NAMED`). A user's score of an item is
``f(user, r_interacts, item)``; training adds the KG triples' loss to the recommendation
loss. Which structure: ``scoring_function`` (a name or a structure), or ``~`` to let
:class:`~recbole_automl.trainer.AutoSFTrainer` search one (:class:`BlockSpace`).
"""

import itertools

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from recbole.model.abstract_recommender import KnowledgeRecommender
from recbole.model.init import xavier_normal_initialization
from recbole.utils import InputType

from recbole_automl.search import Space, point_key
from recbole_automl.utils import ConfigError

BLOCKS = 4
# The human-designed functions as structures (rows: head blocks, columns: tail blocks).
NAMED = {
    "DistMult": [[1, 0, 0, 0], [0, 2, 0, 0], [0, 0, 3, 0], [0, 0, 0, 4]],
    "ComplEx": [[1, 0, -3, 0], [0, 2, 0, -4], [3, 0, 1, 0], [0, 4, 0, 2]],
    "Analogy": [[1, 0, 0, 0], [0, 2, 0, 0], [0, 0, 3, -4], [0, 0, 4, 3]],
    "SimplE": [[0, 0, 1, 0], [0, 0, 0, 2], [3, 0, 0, 0], [0, 4, 0, 0]],
}


def parse_structure(value, key="scoring_function"):
    """``value`` (a name of :data:`NAMED` or a 4 x 4 list of integers in -4..4, not all
    zero) as a structure (list of lists), or a ``ConfigError`` naming ``key``."""
    if isinstance(value, str):
        if value not in NAMED:
            raise ConfigError(
                f"Config key '{key}' must be one of {list(NAMED)}, a 4 x 4 structure of "
                f"integers in -4..4, or ~ to search one; got {value!r}."
            )
        return [list(row) for row in NAMED[value]]
    rows = value if isinstance(value, (list, tuple)) else None
    ok = (
        rows is not None and len(rows) == BLOCKS
        and all(isinstance(r, (list, tuple)) and len(r) == BLOCKS for r in rows)
        and all(isinstance(v, int) and not isinstance(v, bool) and -4 <= v <= 4
                for r in rows for v in r)
        and any(v for r in rows for v in r)
    )  # fmt: skip
    if not ok:
        raise ConfigError(
            f"Config key '{key}' must be one of {list(NAMED)} or a 4 x 4 structure (a list "
            f"of 4 rows of 4 integers in -4..4: entry [i][j] = +-k puts +-r_k between head "
            f"block i and tail block j; not all zero); got {value!r}."
        )
    return [list(row) for row in rows]


# Every reparametrisation that leaves a structure's model class unchanged: the same
# permutation of the entity blocks on rows and columns, and a permutation and sign flips
# of the relation blocks (AutoSF's invariances).
_ENTITY_PERMUTATIONS = np.array(list(itertools.permutations(range(BLOCKS))))
_RELATION_MAPS = np.array(
    [
        [0] + [s[p[k - 1]] * (p[k - 1] + 1) for k in range(1, 5)]
        for p in itertools.permutations(range(BLOCKS))
        for s in itertools.product((1, -1), repeat=BLOCKS)
    ]
)  # fmt: skip  (maps |value| -> new signed value; row index: one relabelling)
_POWERS = 9 ** np.arange(BLOCKS * BLOCKS - 1, -1, -1, dtype=np.int64)


def canonical(structure):
    """The smallest of every structure equivalent to ``structure``: equal for equivalent
    structures, so the search trains one of each class."""
    a = np.asarray(structure, dtype=np.int64)
    permuted = a[_ENTITY_PERMUTATIONS[:, :, None], _ENTITY_PERMUTATIONS[:, None, :]]
    magnitude, sign = np.abs(permuted), np.sign(permuted)
    # (relabellings, entity permutations, 4, 4)
    variants = _RELATION_MAPS[:, magnitude] * sign[None]
    codes = ((variants.reshape(*variants.shape[:2], -1) + 4) * _POWERS).sum(-1)
    best = int(codes.min())
    digits = [(best // int(p)) % 9 - 4 for p in _POWERS]
    return [digits[i * BLOCKS : (i + 1) * BLOCKS] for i in range(BLOCKS)]


def named_as(structure):
    """The name of :data:`NAMED` that ``structure`` is equivalent to, or ``None``."""
    key = canonical(structure)
    return next((name for name, s in NAMED.items() if canonical(s) == key), None)


def degenerate(structure):
    """Whether a head or tail block is never used (the search's filter: such a structure
    wastes a quarter of the embedding)."""
    a = np.asarray(structure) != 0
    return bool((~a.any(0)).any() or (~a.any(1)).any())


# AutoSF's symmetry-related features: for each pattern of equalities among the relation
# blocks (their values up to sign and order; 0 drops a block), whether some relation of
# that pattern makes the structure symmetric, and whether skew-symmetric.
_PATTERNS = np.array([
    [1, 2, 3, 4], [1, 1, 2, 3], [1, 1, 1, 2], [1, 1, 2, 2], [1, 1, 1, 1],
    [0, 1, 2, 3], [0, 1, 1, 2], [0, 1, 1, 1], [0, 0, 1, 1], [0, 0, 1, 2], [0, 0, 0, 1],
])  # fmt: skip
_ASSIGNMENTS = np.array([
    [0] + [s[k] * pattern[p[k]] for k in range(BLOCKS)]
    for pattern in _PATTERNS
    for p in itertools.permutations(range(BLOCKS))
    for s in itertools.product((1, -1), repeat=BLOCKS)
]).reshape(len(_PATTERNS), -1, BLOCKS + 1)  # fmt: skip


def symmetry_features(structure):
    """The 22 features AutoSF's predictor reads (two per pattern of :data:`_PATTERNS`)."""
    a = np.asarray(structure)
    values = _ASSIGNMENTS[:, :, np.abs(a)] * np.sign(a)  # (patterns, assignments, 4, 4)
    transposed = values.swapaxes(-1, -2)
    nonzero = values.any((-1, -2))
    symmetric = ((values == transposed).all((-1, -2)) & nonzero).any(-1)
    skew = ((values == -transposed).all((-1, -2)) & nonzero).any(-1)
    return np.stack([symmetric, skew], 1).reshape(-1).astype(np.float32)


class BlockSpace(Space):
    """AutoSF's space, grown stage by stage: structures of 4, 6, ..., ``max_blocks``
    non-zero blocks. Keys are canonical (equivalent structures are one point); the
    encoding is :func:`symmetry_features`. The first stage is every structure with one
    block per row, column and relation block (5 classes: DistMult and SimplE among them);
    a structure of the next stage adds two blocks (any relation block, either sign) to
    empty cells of one of this stage's (:meth:`grow`). Degenerate structures are filtered.
    """

    def __init__(self, max_blocks=8):
        if max_blocks < BLOCKS or max_blocks % 2:
            raise ConfigError(
                f"Config key 'autosf_max_blocks' must be an even number >= 4, got {max_blocks}."
            )
        self.stages = list(range(BLOCKS, max_blocks + 1, 2))

    def key(self, point):
        return point_key(canonical(point))

    def encode(self, point):
        return symmetry_features(point)

    def stage(self, point):
        return int(np.count_nonzero(point))

    def initial(self):
        """Every structure of the first stage, one per class, in a fixed order."""
        points = {}
        for perm in itertools.permutations(range(BLOCKS)):
            a = [[0] * BLOCKS for _ in range(BLOCKS)]
            for i, j in enumerate(perm):
                a[i][j] = i + 1
            points.setdefault(self.key(a), a)
        return list(points.values())

    def grow(self, point, rng):
        """``point`` plus two blocks drawn with ``rng`` in empty cells, or ``None``."""
        a = [list(row) for row in point]
        for _ in range(2):
            empty = [(i, j) for i in range(BLOCKS) for j in range(BLOCKS) if not a[i][j]]
            if not empty:
                return None
            i, j = empty[rng.integers(len(empty))]
            a[i][j] = int(rng.integers(1, BLOCKS + 1)) * int(rng.choice([1, -1]))
        return None if degenerate(a) else a

    def sample(self, rng):
        """A random structure of a random stage (random search's draw)."""
        first = self.initial()
        point = first[rng.integers(len(first))]
        for _ in range(int(rng.integers(len(self.stages)))):
            grown = None
            while grown is None:
                grown = self.grow(point, rng)
            point = grown
        return point


class AutoSF(KnowledgeRecommender):
    """Users, items and KG entities in one space, scored by a bilinear structure.

    Training (RecBole's KG dataloader, recommendation pairs and KG triples in each batch):
    the recommendation loss (``loss_type``: ``softmax``, the cross-entropy of the positive
    among all items; or ``BPR`` with the sampled negative) plus ``kg_weight`` times the KG
    triples' BPR loss (the positive tail against RecBole's sampled negative tail), plus
    ``reg_weight`` times the squared norm of the batch's embeddings.
    """

    input_type = InputType.PAIRWISE

    def __init__(self, config, dataset):
        super().__init__(config, dataset)
        self.embedding_size = config["embedding_size"]
        if self.embedding_size % BLOCKS:
            raise ConfigError(
                f"Config key 'embedding_size' must be a multiple of {BLOCKS} for AutoSF's "
                f"blocks, got {self.embedding_size}."
            )
        if config["loss_type"] not in ("softmax", "BPR"):
            raise ConfigError(
                f"Config key 'loss_type' must be one of ['softmax', 'BPR'] for AutoSF, "
                f"got {config['loss_type']!r}."
            )
        self.loss_type = config["loss_type"]
        self.kg_weight = config["kg_weight"]
        self.reg_weight = config["reg_weight"]
        self.structure = parse_structure(config["scoring_function"] or "DistMult")
        self.user_embedding = nn.Embedding(self.n_users, self.embedding_size)
        self.entity_embedding = nn.Embedding(self.n_entities, self.embedding_size)
        # The KG's relations, then "interacts" (the last row), as RecBole's CFKG.
        self.relation_embedding = nn.Embedding(self.n_relations + 1, self.embedding_size)
        # (head block i, relation block k, tail block j, sign) of each non-zero entry
        self.terms = [
            (i, abs(v) - 1, j, 1 if v > 0 else -1)
            for i, row in enumerate(self.structure)
            for j, v in enumerate(row)
            if v
        ]
        self.apply(xavier_normal_initialization)

    def query(self, head, relation):
        """``(B, d)`` vectors ``q`` with ``f(h, r, t) = <q, t>``: tail block j of ``q`` is
        the sum of ``sign * h_i * r_k`` over the structure's entries (i, j) = +-k."""
        h, r = head.chunk(BLOCKS, -1), relation.chunk(BLOCKS, -1)
        q = [torch.zeros_like(h[0]) for _ in range(BLOCKS)]
        for i, k, j, sign in self.terms:
            q[j] = q[j] + h[i] * r[k] if sign > 0 else q[j] - h[i] * r[k]
        return torch.cat(q, -1)

    def _user_query(self, user):
        user_e = self.user_embedding(user)
        interacts = self.relation_embedding.weight[-1].expand_as(user_e)
        return self.query(user_e, interacts), user_e

    def _regularizer(self, *embeddings):
        return sum(e.pow(2).sum() for e in embeddings) / len(embeddings[0])

    def calculate_loss(self, interaction):
        user = interaction[self.USER_ID]
        pos_item = interaction[self.ITEM_ID]
        q, user_e = self._user_query(user)
        pos_e = self.entity_embedding(pos_item)
        pos = (q * pos_e).sum(-1)
        if self.loss_type == "softmax":
            scores = q @ self.entity_embedding.weight[: self.n_items].T
            rec_loss = F.cross_entropy(scores, pos_item)
            rec_embeddings = (user_e, pos_e)
        else:
            neg_e = self.entity_embedding(interaction[self.NEG_ITEM_ID])
            rec_loss = F.softplus((q * neg_e).sum(-1) - pos).mean()
            rec_embeddings = (user_e, pos_e, neg_e)
        loss = rec_loss
        if self.kg_weight:
            head_e = self.entity_embedding(interaction[self.HEAD_ENTITY_ID])
            relation_e = self.relation_embedding(interaction[self.RELATION_ID])
            tail_e = self.entity_embedding(interaction[self.TAIL_ENTITY_ID])
            neg_tail_e = self.entity_embedding(interaction[self.NEG_TAIL_ENTITY_ID])
            kq = self.query(head_e, relation_e)
            kg_loss = F.softplus(((kq * neg_tail_e) - (kq * tail_e)).sum(-1)).mean()
            loss = loss + self.kg_weight * kg_loss
            rec_embeddings += (head_e, relation_e, tail_e, neg_tail_e)
        if self.reg_weight:
            loss = loss + self.reg_weight * self._regularizer(*rec_embeddings)
        return loss

    def predict(self, interaction):
        q, _ = self._user_query(interaction[self.USER_ID])
        return (q * self.entity_embedding(interaction[self.ITEM_ID])).sum(-1)

    def full_sort_predict(self, interaction):
        q, _ = self._user_query(interaction[self.USER_ID])
        return (q @ self.entity_embedding.weight[: self.n_items].T).view(-1)
