r"""AutoGNN: one graph collaborative-filtering model whose architecture is data.

References:
    Huan Zhao, Quanming Yao, Weiwei Tu. "Search to aggregate neighborhood for graph neural
    network." ICDE 2021 (SANE). Yuhui Ding, Quanming Yao, Huan Zhao, Tong Zhang.
    "DiffMG: Differentiable Meta Graph Search for Heterogeneous Graph Neural Networks."
    KDD 2021. (The IJCAI-21 tutorial "Automated Recommender System", Yao, Li, Gao, Zhao,
    Zhang, part 3.) The points of the space it is measured against: Xiangnan He et al.
    "LightGCN." SIGIR 2020; Xiang Wang et al. "Neural Graph Collaborative Filtering."
    SIGIR 2019; MF (zero layers).

Users and items are the nodes of the bipartite interaction graph of the training split.
An architecture (a dict, :data:`SPACE`) propagates their embeddings through ``layers``
layers (0-4), each:

* ``normalization`` of the adjacency: ``symmetric`` (D^-1/2 A D^-1/2, LightGCN's and
  NGCF's), ``left`` (D^-1 A: the mean of the neighbours) or ``none`` (their sum);
* ``aggregation``: ``sum`` (over the normalized adjacency) or ``attention`` (each node's
  neighbours weighted by a softmax of their dot products with it);
* ``self_connection``: the node's own embedding is added to its neighbours' (A + I);
* ``transform``: ``none`` (LightGCN), ``linear`` (a d x d map), ``nonlinear`` (the same
  then LeakyReLU) or ``bi`` (NGCF's bi-interaction layer: W1 (self + side) + W2 (side *
  self), LeakyReLU, message dropout, L2-normalized rows);
* ``edge_dropout``: a share of the adjacency's entries dropped while training (NGCF's node
  dropout).

The layers' outputs (with the embeddings themselves, layer 0) are combined by
``combination``: ``last``, ``mean`` (LightGCN), ``sum``, ``concat`` (NGCF) or
``weighted`` (learned softmax weights). Score: the dot product of the user's and item's
combined embeddings; loss (``loss_type``): BPR (LightGCN's and NGCF's), or softmax (the
cross-entropy of the positive among every item, the loss AutoCF's benchmarks chose), plus
``reg_weight`` times the squared norms of the batch's layer-0 embeddings (LightGCN's).
:data:`PRESETS` are MF, LightGCN and NGCF as points.
"""

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn as nn
import torch.nn.functional as F
from recbole.model.abstract_recommender import GeneralRecommender
from recbole.model.init import xavier_uniform_initialization
from recbole.model.loss import BPRLoss, EmbLoss
from recbole.utils import InputType

from recbole_automl.search import CategoricalSpace, point_key
from recbole_automl.utils import ConfigError

SPACE = {
    "layers": [0, 1, 2, 3, 4],
    "normalization": ["symmetric", "left", "none"],
    "aggregation": ["sum", "attention"],
    "self_connection": [False, True],
    "transform": ["none", "linear", "nonlinear", "bi"],
    "combination": ["last", "mean", "sum", "concat", "weighted"],
    "edge_dropout": [0.0, 0.1, 0.2],
}
_LIGHTGCN = {
    "layers": 2, "normalization": "symmetric", "aggregation": "sum", "self_connection": False,
    "transform": "none", "combination": "mean", "edge_dropout": 0.0,
}  # fmt: skip
PRESETS = {
    "MF": {**_LIGHTGCN, "layers": 0},
    "LightGCN": _LIGHTGCN,  # RecBole's n_layers 2
    "NGCF": {**_LIGHTGCN, "layers": 3, "self_connection": True, "transform": "bi",
             "combination": "concat"},  # RecBole's hidden_size_list [64, 64, 64]
}  # fmt: skip


def parse_architecture(architecture, key="architecture"):
    """``architecture`` (a preset name or a dict of :data:`SPACE`'s keys; missing keys take
    LightGCN's values) as a full dict, or a ``ConfigError`` naming the bad part."""
    if isinstance(architecture, str):
        if architecture not in PRESETS:
            raise ConfigError(
                f"Config key '{key}': unknown preset {architecture!r}; presets are "
                f"{list(PRESETS)}, or give a dict of {list(SPACE)}."
            )
        return dict(PRESETS[architecture])
    if not isinstance(architecture, dict):
        raise ConfigError(
            f"Config key '{key}' must be a preset of {list(PRESETS)} or a dict of "
            f"{list(SPACE)}, got {architecture!r}."
        )
    unknown = sorted(set(architecture) - set(SPACE))
    if unknown:
        raise ConfigError(f"Config key '{key}': unknown parts {unknown}; parts are {list(SPACE)}.")
    full = {**_LIGHTGCN, **architecture}
    for part, value in full.items():
        if value not in SPACE[part]:
            raise ConfigError(
                f"Config key '{key}': '{part}' must be one of {SPACE[part]}, got {value!r}."
            )
    return full


def canonical(architecture):
    """``architecture`` with the parts that change nothing set to LightGCN's: with 0 layers
    every part but the layers (MF), so that equal models are one point of the search."""
    full = parse_architecture(architecture)
    if full["layers"] == 0:
        return {**_LIGHTGCN, "layers": 0}
    return full


class ArchitectureSpace(CategoricalSpace):
    """:data:`SPACE` (or a part of it: ``choices`` narrows some parts' choices) as a
    categorical space whose points are :func:`canonical`."""

    def __init__(self, choices=None, key="search_architecture_space"):
        choices = dict(choices or {})
        for part, values in choices.items():
            if part not in SPACE:
                raise ConfigError(
                    f"Config key '{key}': unknown part {part!r}; parts are {list(SPACE)}."
                )
            if (
                not isinstance(values, list)
                or not values
                or any(v not in SPACE[part] for v in values)
            ):
                raise ConfigError(
                    f"Config key '{key}': '{part}' must be a non-empty list of {SPACE[part]}, "
                    f"got {values!r}."
                )
        super().__init__({**SPACE, **choices})

    def sample(self, rng):
        return canonical(super().sample(rng))

    def key(self, point):
        return point_key(canonical(point))

    def encode(self, point):
        return super().encode(canonical(point))


def normalized_adjacency(interactions, n_users, n_items, normalization, self_connection):
    """The (users + items) square adjacency of the training interactions (a COO matrix),
    plus I with ``self_connection``, normalized as ``normalization`` says."""
    n = n_users + n_items
    rows = np.concatenate([interactions.row, interactions.col + n_users])
    cols = np.concatenate([interactions.col + n_users, interactions.row])
    adjacency = sp.coo_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(n, n))
    adjacency = (adjacency > 0).astype(np.float32)  # (a repeated pair is one edge)
    degree = np.asarray(adjacency.sum(1)).flatten() + 1e-7  # LightGCN's epsilon
    if normalization == "symmetric":
        scale = sp.diags(np.power(degree, -0.5))
        adjacency = scale @ adjacency @ scale
    elif normalization == "left":
        adjacency = sp.diags(1.0 / degree) @ adjacency
    if self_connection:
        adjacency = adjacency + sp.eye(n, dtype=np.float32)
    adjacency = sp.coo_matrix(adjacency, dtype=np.float32)
    indices = torch.as_tensor(np.vstack([adjacency.row, adjacency.col]), dtype=torch.long)
    values = torch.as_tensor(adjacency.data, dtype=torch.float32)
    return torch.sparse_coo_tensor(indices, values, (n, n)).coalesce()


class GNNLayer(nn.Module):
    """One propagation layer of an architecture (module docstring)."""

    def __init__(self, arch, dim, message_dropout):
        super().__init__()
        self.arch = arch
        self.transform = arch["transform"]
        if self.transform in ("linear", "nonlinear"):
            self.linear = nn.Linear(dim, dim)
        elif self.transform == "bi":  # NGCF's BiGNNLayer
            self.linear = nn.Linear(dim, dim)
            self.interaction = nn.Linear(dim, dim)
            self.dropout = nn.Dropout(message_dropout)

    def forward(self, adjacency, x):
        if self.arch["aggregation"] == "attention":
            indices = adjacency.indices()
            scores = (x[indices[0]] * x[indices[1]]).sum(-1) / np.sqrt(x.shape[1])
            weights = torch.sparse_coo_tensor(indices, scores, adjacency.shape)
            adjacency = torch.sparse.softmax(weights, dim=1)
        side = torch.sparse.mm(adjacency, x)
        if self.transform == "none":
            return side
        if self.transform == "linear":
            return self.linear(side)
        if self.transform == "nonlinear":
            return F.leaky_relu(self.linear(side), 0.2)
        # NGCF: the self-connection is in (I + L) E W1; side is L E here.
        own = x if self.arch["self_connection"] else 0.0
        out = self.linear(side + own) + self.interaction(side * x)
        return F.normalize(self.dropout(F.leaky_relu(out, 0.2)), p=2, dim=1)


class AutoGNN(GeneralRecommender):
    """A graph CF model whose architecture is ``architecture`` (module docstring);
    :class:`~recbole_automl.trainer.AutoGNNTrainer` searches one when it is ``~``."""

    input_type = InputType.PAIRWISE

    def __init__(self, config, dataset):
        super().__init__(config, dataset)
        self.arch = parse_architecture(config["architecture"] or "LightGCN")
        self.embedding_size = config["embedding_size"]
        self.reg_weight = config["reg_weight"]
        self.loss_type = config["loss_type"]
        if self.loss_type not in ("BPR", "softmax"):
            raise ConfigError(
                f"Config key 'loss_type' must be one of ['BPR', 'softmax'] for AutoGNN, "
                f"got {self.loss_type!r}."
            )
        self.user_embedding = nn.Embedding(self.n_users, self.embedding_size)
        self.item_embedding = nn.Embedding(self.n_items, self.embedding_size)
        graph_self = self.arch["self_connection"] and self.arch["transform"] != "bi"
        adjacency = normalized_adjacency(
            dataset.inter_matrix(form="coo"), self.n_users, self.n_items,
            self.arch["normalization"], graph_self,
        )  # fmt: skip
        self.register_buffer("adjacency", adjacency, persistent=False)
        self.layers = nn.ModuleList(
            GNNLayer(self.arch, self.embedding_size, config["message_dropout"])
            for _ in range(self.arch["layers"])
        )
        if self.arch["combination"] == "weighted":
            self.layer_weights = nn.Parameter(torch.zeros(self.arch["layers"] + 1))
        self.mf_loss, self.reg_loss = BPRLoss(), EmbLoss()
        self.restore_user_e = self.restore_item_e = None
        self.other_parameter_name = ["restore_user_e", "restore_item_e"]
        self.apply(xavier_uniform_initialization)
        if self.arch["combination"] == "weighted":
            nn.init.zeros_(self.layer_weights)

    def _dropped(self):
        p = self.arch["edge_dropout"]
        if not self.training or not p:
            return self.adjacency
        keep = torch.rand(self.adjacency.values().shape, device=self.adjacency.device) >= p
        return torch.sparse_coo_tensor(
            self.adjacency.indices()[:, keep],
            self.adjacency.values()[keep] / (1 - p),
            self.adjacency.shape,
            is_coalesced=True,
        )  # fmt: skip  (a subset of a coalesced tensor's entries)

    def forward(self):
        x = torch.cat([self.user_embedding.weight, self.item_embedding.weight])
        outputs = [x]
        adjacency = self._dropped() if self.layers else None
        for layer in self.layers:
            x = layer(adjacency, x)
            outputs.append(x)
        combination = self.arch["combination"]
        if combination == "last":
            combined = outputs[-1]
        elif combination == "concat":
            combined = torch.cat(outputs, 1)
        elif combination == "weighted":
            weights = torch.softmax(self.layer_weights, 0)
            combined = sum(w * out for w, out in zip(weights, outputs))
        else:
            combined = torch.stack(outputs, 1)
            combined = combined.mean(1) if combination == "mean" else combined.sum(1)
        return torch.split(combined, [self.n_users, self.n_items])

    def calculate_loss(self, interaction):
        self.restore_user_e = self.restore_item_e = None
        user = interaction[self.USER_ID]
        pos_item, neg_item = interaction[self.ITEM_ID], interaction[self.NEG_ITEM_ID]
        users, items = self.forward()
        u = users[user]
        if self.loss_type == "softmax":
            rec_loss = F.cross_entropy(u @ items.T, pos_item)
        else:
            rec_loss = self.mf_loss((u * items[pos_item]).sum(1), (u * items[neg_item]).sum(1))
        reg = self.reg_loss(
            self.user_embedding(user), self.item_embedding(pos_item),
            self.item_embedding(neg_item), require_pow=False,
        )  # fmt: skip
        return rec_loss + self.reg_weight * reg

    def predict(self, interaction):
        users, items = self.forward()
        return (users[interaction[self.USER_ID]] * items[interaction[self.ITEM_ID]]).sum(1)

    def full_sort_predict(self, interaction):
        if self.restore_user_e is None or self.restore_item_e is None:
            self.restore_user_e, self.restore_item_e = self.forward()
        return (self.restore_user_e[interaction[self.USER_ID]] @ self.restore_item_e.T).view(-1)
