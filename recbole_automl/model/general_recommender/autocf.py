r"""AutoCF: one configurable collaborative-filtering model that spans a search space.

Reference:
    Chen Gao, Quanming Yao, Depeng Jin, Yong Li. "Efficient Data-specific Model Search
    for Collaborative Filtering." KDD 2021. (The CF space of the IJCAI-21 tutorial
    "Automated Recommender System", Yao, Li, Gao, Zhao, Zhang.)

An architecture is a list of branches whose scores are summed. A branch has four stages:

* input encoding per side: ``ID`` (one-hot id) or ``history`` (the row of the training
  interaction matrix: a user's items, an item's users);
* embedding function per side: ``MAT`` (a lookup / linear map) or ``MLP`` (the same
  followed by ReLU and a linear layer);
* interaction: ``multiply``, ``minus``, ``plus``, ``max``, ``min`` or ``concat``;
* prediction: ``SUM``, ``VEC``, ``MLP`` or ``Norm`` (see :class:`PredictionHead`).

A branch is written ``{user: ID-MAT, item: history-MLP, interaction: multiply,
prediction: VEC}``; :data:`PRESETS` names the human-designed models of the tutorial's
table as points of the space. Branches do not share embeddings.
"""

import numpy as np
import torch
import torch.nn as nn
from recbole.model.init import xavier_normal_initialization

from recbole_automl.model.abstract_recommender import PairScoringRecommender
from recbole_automl.model.layers import (
    INTERACTIONS,
    DropsEntries,
    HistoryEncoder,
    PredictionHead,
    SparseRows,
    interaction_dim,
    score_matrix,
)
from recbole_automl.utils import ConfigError

# The search space, as data: the choices of each stage of a branch.
SPACE = {
    "user": ["ID-MAT", "ID-MLP", "history-MAT", "history-MLP"],
    "item": ["ID-MAT", "ID-MLP", "history-MAT", "history-MLP"],
    "interaction": list(INTERACTIONS),
    "prediction": list(PredictionHead.KINDS),
}
# The branches whose scores of every item are one matrix product (interaction multiply,
# prediction SUM or VEC): the part of the space that ``loss_type: softmax`` searches (any
# other head scores a row through a (batch, n_items, width) tensor: NeuMF's MLP tower
# took 340 s an epoch on ml-100k against 2.6 s for MF).
ROW_SCORED = {**SPACE, "interaction": ["multiply"], "prediction": ["SUM", "VEC"]}


def row_scored(branches):
    """Whether every branch of ``branches`` scores all items with one matrix product."""
    return all(branch[stage] in ROW_SCORED[stage] for branch in branches for stage in ROW_SCORED)


def _branch(user, item, interaction, prediction):
    return {"user": user, "item": item, "interaction": interaction, "prediction": prediction}


_GMF = _branch("ID-MAT", "ID-MAT", "multiply", "VEC")
_MLP = _branch("ID-MAT", "ID-MAT", "concat", "MLP")
_MF = _branch("ID-MAT", "ID-MAT", "multiply", "SUM")
_FISM = _branch("history-MAT", "ID-MAT", "multiply", "SUM")

# Human-designed CF models as points of the space (the tutorial's table).
PRESETS = {
    "MF": [_MF],
    "FISM": [_FISM],
    "GMF": [_GMF],
    "MLP": [_MLP],
    "CMF": [_branch("ID-MAT", "ID-MAT", "minus", "Norm")],
    "DMF": [_branch("history-MLP", "history-MLP", "multiply", "SUM")],
    "JNCF-Cat": [_branch("history-MLP", "history-MLP", "concat", "MLP")],
    "JNCF-Dot": [_branch("history-MLP", "history-MLP", "multiply", "MLP")],
    "NeuMF": [_GMF, _MLP],
    "SVD++": [_MF, _FISM],
    "DELF": [
        _branch("ID-MAT", "ID-MAT", "concat", "MLP"),
        _branch("ID-MAT", "history-MAT", "concat", "MLP"),
        _branch("history-MAT", "ID-MAT", "concat", "MLP"),
        _branch("history-MAT", "history-MAT", "concat", "MLP"),
    ],
}


def parse_architecture(architecture):
    """Return ``architecture`` (a preset name, a branch or a list of branches) as a list.

    Raises:
        ConfigError: naming the bad part and the allowed values.
    """
    if isinstance(architecture, str):
        if architecture not in PRESETS:
            raise ConfigError(
                f"Config key 'architecture': unknown preset '{architecture}'; "
                f"presets are {list(PRESETS)}, or give a list of branches."
            )
        return [dict(branch) for branch in PRESETS[architecture]]
    branches = [architecture] if isinstance(architecture, dict) else architecture
    if not isinstance(branches, (list, tuple)) or not branches:
        raise ConfigError(
            "Config key 'architecture' must be a preset name or a non-empty list of "
            f"branches, got {architecture!r}."
        )
    for branch in branches:
        if not isinstance(branch, dict) or set(branch) != set(SPACE):
            raise ConfigError(
                f"Config key 'architecture': a branch needs exactly the keys "
                f"{list(SPACE)}, got {branch!r}."
            )
        for stage, choice in branch.items():
            if choice not in SPACE[stage]:
                raise ConfigError(
                    f"Config key 'architecture': {stage} '{choice}' is not one of {SPACE[stage]}."
                )
    return [dict(branch) for branch in branches]


class SideEncoder(nn.Module):
    """Input encoding plus embedding function of one side (users or items)."""

    def __init__(self, encoding, num_ids, history_matrix, embedding_size, alpha, dropout=0.0):
        super().__init__()
        source, function = encoding.split("-")
        self.history = source == "history"
        if self.history:
            self.lookup = HistoryEncoder(history_matrix, embedding_size, alpha, dropout)
        else:
            self.lookup = nn.Embedding(num_ids, embedding_size)
        self.mlp = None
        if function == "MLP":
            self.mlp = nn.Sequential(nn.ReLU(), nn.Linear(embedding_size, embedding_size))

    def forward(self, ids, exclude=None):
        if self.history:
            x = self.lookup(ids, exclude)
        else:
            x = self.lookup(ids)
        return x if self.mlp is None else self.mlp(x)


class Branch(nn.Module):
    """One user encoder, one item encoder, an interaction and a prediction head."""

    def __init__(self, spec, n_users, n_items, matrix, embedding_size, alpha, dropout=0.0):
        super().__init__()
        sides = (embedding_size, alpha, dropout)
        self.user = SideEncoder(spec["user"], n_users, matrix, *sides)
        self.item = SideEncoder(spec["item"], n_items, matrix.T, *sides)
        self.interaction_name = spec["interaction"]
        self.interaction = INTERACTIONS[spec["interaction"]]
        dim = interaction_dim(spec["interaction"], embedding_size)
        self.head = PredictionHead(spec["prediction"], dim)

    def score(self, user_vectors, item_vectors):
        return self.head(self.interaction(user_vectors, item_vectors))

    def score_matrix(self, user_vectors, item_vectors):
        """Scores of every pair: (B, d) users x (N, d) items -> (B, N)."""
        return score_matrix(self.interaction_name, self.head, user_vectors, item_vectors)


class ItemItem(DropsEntries):
    """A trainable item-item term: ``s(u, i) = |H(u)| ** -alpha * sum of W[j, i] over the
    items j != i of u's training history H(u)``, the form of SLIM and EASE, with W learned
    by the model's training objective (from 0; the diagonal is never used). With
    ``neighbours`` = k, row j of W is non-zero on the k items most similar to j only
    (cosine of their training columns; SLIM's feature selection, Ning and Karypis, ICDM
    2011, and the sparse approximation of EASE's matrix in Steck, "Markov Random Fields for
    Collaborative Filtering", NeurIPS 2019): ``n_items * k`` weights, and a row of scores
    costs k per history entry instead of ``n_items``; ``None``: the full ``n_items ** 2``.
    A batch touches only the weights of its histories' entries. With ``dropout``, the
    history entries are left out as the model's history encodings leave them out
    (:class:`DropsEntries`, the same draw in a step): a denoising objective, the
    counterpart of EASE's L2 penalty (Steck, "Autoencoders that don't overfit towards the
    identity", NeurIPS 2020)."""

    def __init__(self, matrix, n_items, alpha, dropout=0.0, neighbours=None):
        super().__init__(dropout)
        self.n_items = n_items
        self.history = SparseRows(matrix, alpha)
        support = None  # every item
        if neighbours is not None and neighbours < n_items - 1:
            support = torch.as_tensor(item_neighbours(matrix, neighbours))
        self.register_buffer("support", support)  # (n_items, k): row j's columns, ascending
        self.last_rows = None  # (users, their rows of scores) of this training step
        width = n_items if support is None else support.shape[1]
        self.weight = nn.Parameter(torch.zeros(n_items, width))

    def _entries(self, user):
        pair, history, weight = self.history.entries(user)
        if self.dropping():
            weight = weight * self.kept(user[pair], history)
        return pair, history, weight

    def _left_out(self, user, exclude):
        """The weight of ``exclude`` (an item of each history) in ``user``'s entries: 0
        where the step left it out anyway."""
        scale = self.history.scale[user]
        return scale * self.kept(user, exclude) if self.dropping() else scale

    def forward(self, user, item, observed=False):
        """Scores of (user, item) pairs, from the rows of the batch's distinct users (a
        softmax batch holds chunks of a few users' pairs); ``observed``: the pairs are in
        the training matrix (the item's own entry of the history does not count)."""
        rows, inverse = torch.unique(user, return_inverse=True)
        last = self.last_rows  # the softmax's negatives: the same rows in the same step
        if last is not None and last[0].shape == rows.shape and torch.equal(last[0], rows):
            scores = last[1][inverse, item]
        else:
            scores = self.score_matrix(rows)[inverse, item]
        if observed and self.support is None:  # W[i, i] (never in a row's k neighbours)
            scores = scores - self._left_out(user, item) * self.weight[item, item]
        return scores

    def score_matrix(self, user, exclude=None):
        """Scores of every item for ``user``; ``exclude``: an item of each history to leave
        out. While training, the rows without ``exclude`` are kept for :meth:`forward`
        until the model's next step clears :attr:`last_rows`."""
        pair, history, weight = self._entries(user)
        if self.support is None:
            scores = self.history.matmul(user, self.weight, (pair, history, weight))
            if exclude is not None:
                scores = scores - self._left_out(user, exclude).unsqueeze(1) * self.weight[exclude]
        else:
            if exclude is not None:  # one more entry per row, of negative weight
                pair = torch.cat([pair, torch.arange(len(user), device=user.device)])
                history = torch.cat([history, exclude])
                weight = torch.cat([weight, -self._left_out(user, exclude)])
            column = (pair * self.n_items).unsqueeze(1) + self.support[history]
            values = self.weight[history] * weight.unsqueeze(1)
            scores = torch.zeros(len(user) * self.n_items, device=user.device)
            scores = scores.index_add(0, column.view(-1), values.view(-1)).view(len(user), -1)
        if exclude is None and self.training:
            self.last_rows = (user, scores)
        return scores


def item_neighbours(matrix, k, block=2**24):
    """The ``k`` items most similar to each item (cosine of the columns of the users x
    items ``matrix``; itself excluded), ascending per row: an (n_items, k) array. The
    similarities are computed a block of rows at a time (``block`` entries)."""
    csc = matrix.tocsc().astype(np.float32)
    csc.sum_duplicates()
    csc.data[:] = 1.0
    norms = np.sqrt(np.maximum(np.asarray(csc.sum(0)).ravel(), 1.0))
    n_items = csc.shape[1]
    rows = max(1, block // n_items)
    out = np.empty((n_items, k), dtype=np.int64)
    for start in range(0, n_items, rows):
        stop = min(start + rows, n_items)
        sims = (csc[:, start:stop].T @ csc).toarray() / norms[start:stop, None] / norms[None, :]
        sims[np.arange(stop - start), np.arange(start, stop)] = -np.inf  # never itself
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        out[start:stop] = np.sort(top, axis=1)
    return out


SOFTMAX_HISTORY_DROPOUT = 0.5  # history_dropout ~ under softmax (see AutoCF.yaml)


def history_dropout(config):
    """``history_dropout``, or (``~``) 0.5 under ``loss_type: softmax`` and 0 otherwise:
    the share measured with the softmax loss (benchmarks/results/ml-100k-autocf-diagnosis.md
    and ml-100k-general.md), not with the others."""
    dropout = config["history_dropout"]
    if dropout is None:
        return SOFTMAX_HISTORY_DROPOUT if config["loss_type"] == "softmax" else 0.0
    return float(dropout)


def item_item_error(n_items, limit, key="item_item"):
    """Why an item-item term of ``n_items`` is refused."""
    gib = n_items**2 * 4 * 3 / 2**30  # the weights and Adam's two moments, float32
    return (
        f"Config key '{key}': an item-item term over {n_items:,} items is {n_items**2:,} "
        f"weights (about {gib:.1f} GiB with Adam's moments), above item_item_max_items "
        f"({limit:,}); set item_item_neighbours (k weights an item), item_item: False, or "
        f"raise item_item_max_items."
    )


def item_item_too_large(config, n_items):
    """Whether a full item-item term (``item_item_neighbours: ~``) over ``n_items`` is
    refused (above ``item_item_max_items``); a term of k neighbours is ``n_items * k``."""
    return config["item_item_neighbours"] is None and n_items > config["item_item_max_items"]


def item_history_error(n_interactions, limit, key="architecture"):
    """Why an item-side history encoding over ``n_interactions`` is refused."""
    return (
        f"Config key '{key}': an item-side history encoding (an item's users) is recomputed "
        f"over every training interaction in each step ({n_interactions:,} here, above "
        f"item_history_max_interactions, {limit:,}): an epoch costs interactions^2 / "
        f"train_batch_size; use an ID item side (ID-MAT, ID-MLP), or raise "
        f"item_history_max_interactions."
    )


def item_history(branches):
    """Whether a branch of ``branches`` encodes items by their history (their users)."""
    return any(branch["item"].startswith("history") for branch in branches)


def item_history_too_costly(config, n_interactions):
    """Whether ``n_interactions`` training interactions exceed
    ``item_history_max_interactions`` (an item-side history is then refused / left out)."""
    return n_interactions > config["item_history_max_interactions"]


class AutoCF(PairScoringRecommender):
    """A CF model assembled from the AutoCF search space (see the module docstring).

    With ``architecture: ~`` the model is the MF preset and :class:`AutoCFTrainer`
    searches the architecture; with a preset name or a list of branches it is that model.
    The training objective follows ``loss_type`` (:class:`PairScoringRecommender`).
    """

    def __init__(self, config, dataset):
        super().__init__(config, dataset)
        self.embedding_size = config["embedding_size"]  # width of every embedding
        self.architecture = parse_architecture(config["architecture"] or "MF")
        matrix = dataset.inter_matrix(form="csr")
        alpha = config["history_alpha"]  # history rows are scaled by |row| ** -alpha
        if item_history(self.architecture) and item_history_too_costly(config, len(dataset)):
            limit = config["item_history_max_interactions"]
            raise ConfigError(item_history_error(len(dataset), limit))
        self.history_dropout = history_dropout(config)  # entries left out in training
        # softmax: batches of chunks of one user's pairs (AutoCFTrainer's UserChunks)
        chunk = config["softmax_user_chunk"] if self.loss_type == "softmax" else None
        self.user_chunk = None if chunk is None else int(chunk)
        self.branches = nn.ModuleList(
            Branch(spec, self.n_users, self.n_items, matrix, self.embedding_size, alpha,
                   self.history_dropout)  # fmt: skip
            for spec in self.architecture
        )
        self.item_item = None  # config item_item: an item-item term on top (ItemItem)
        if config["item_item"]:
            if item_item_too_large(config, self.n_items):
                raise ConfigError(item_item_error(self.n_items, config["item_item_max_items"]))
            neighbours = config["item_item_neighbours"]
            self.item_item = ItemItem(matrix, self.n_items, alpha, self.history_dropout, neighbours)
        self.fused_adam = self.item_item is not None  # its table: see AutoCFTrainer
        self._all_items = None  # item vectors per branch, cached while evaluating
        self.apply(xavier_normal_initialization)  # (the item-item weights stay at 0)

    def train(self, mode=True):
        self._all_items = None
        if self.item_item is not None:
            self.item_item.last_rows = None
        return super().train(mode)

    def calculate_loss(self, interaction):
        if self.history_dropout > 0:  # one draw of the kept history entries per step
            salt = int(torch.randint(2**30, (1,)))
            for module in self.modules():
                if isinstance(module, DropsEntries):
                    module.salt = salt
        if self.item_item is not None:
            self.item_item.last_rows = None
        return super().calculate_loss(interaction)

    def forward(self, user, item, observed=False):
        """Scores of (user, item) pairs; ``observed`` pairs are in the training matrix."""
        exclude_item, exclude_user = (item, user) if observed else (None, None)
        score = self.bias
        for branch in self.branches:
            u = branch.user(user, exclude_item)
            v = branch.item(item, exclude_user)
            score = score + branch.score(u, v)
        if self.item_item is not None:
            score = score + self.item_item(user, item, observed)
        return score

    def score_rows(self, user, exclude=None, item_vectors=None):
        """Scores of every item for ``user`` (see :class:`PairScoringRecommender`);
        ``item_vectors``: each branch's vectors of all items, when they are at hand."""
        if item_vectors is None:
            items = torch.arange(self.n_items, device=user.device)
            item_vectors = [branch.item(items) for branch in self.branches]
        score = self.bias
        for branch, v in zip(self.branches, item_vectors):
            score = score + branch.score_matrix(branch.user(user, exclude), v)
        if self.item_item is not None:
            score = score + self.item_item.score_matrix(user, exclude)
        return score

    def full_sort_predict(self, interaction):
        user = interaction[self.USER_ID]
        if self._all_items is None or self.training:
            items = torch.arange(self.n_items, device=user.device)
            self._all_items = [branch.item(items) for branch in self.branches]
        return self.score_rows(user, item_vectors=self._all_items).reshape(-1)
