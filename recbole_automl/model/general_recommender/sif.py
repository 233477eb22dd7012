r"""SIF: the interaction function of a CF model, searched in one supernet.

Reference:
    Quanming Yao, Xiangning Chen, James T. Kwok, Yong Li, Cho-Jui Hsieh. "Efficient Neural
    Interaction Function Search for Collaborative Filtering." WWW 2020. (The IJCAI-21
    tutorial "Automated Recommender System", Yao, Li, Gao, Zhao, Zhang.)

A user and an item are ID embeddings. Every coordinate of each goes through a small
element-wise network (:class:`~recbole_automl.model.layers.ElementwiseMLP`, one for users,
one for items), then through an interaction operation (AutoCF's: multiply, minus, plus,
max, min, concat), then through that operation's own linear head, whose weights are kept
inside the unit L2 ball.

With ``interaction: ~`` the model is the supernet that :class:`SIFTrainer` searches:
operation weights ``alpha`` (one per operation) are binarised to the one-hot of their
argmax in every forward pass, the proximal step of NASP, so one operation is trained at a
time while every weight gets a gradient. With an operation name it is the stand-alone
model with that operation; ``interaction_mlp`` then holds the searched element-wise
networks (frozen), or ``~`` for none.
"""

import torch
import torch.nn as nn
from recbole.model.init import xavier_normal_initialization

from recbole_automl.model.abstract_recommender import PairScoringRecommender
from recbole_automl.model.layers import (
    INTERACTIONS,
    ElementwiseMLP,
    PredictionHead,
    interaction_dim,
    score_matrix,
)
from recbole_automl.utils import ConfigError

SIDES = ("user", "item")


def _check_operations(config):
    operations = config["sif_operations"]
    if not isinstance(operations, list) or not operations:
        raise ConfigError(
            f"Config key 'sif_operations' must be a non-empty list of {list(INTERACTIONS)}, "
            f"got {operations!r}."
        )
    unknown = [op for op in operations if op not in INTERACTIONS]
    if unknown:
        raise ConfigError(f"Config key 'sif_operations': {unknown} not in {list(INTERACTIONS)}.")
    interaction = config["interaction"]  # ~ or one of INTERACTIONS: SIF.checks.yaml
    return list(operations) if interaction is None else [interaction]


def uses_offsets(config):
    """``user_item_bias``, or (``~``) whether the loss is MSE: ratings have user and item
    biases that a ranking loss does not see."""
    offsets = config["user_item_bias"]
    return config["loss_type"] == "MSE" if offsets is None else bool(offsets)


class SIF(PairScoringRecommender):
    """ID embeddings, element-wise networks, one searched interaction operation, a linear head.

    See the module docstring; the training objective follows ``loss_type``
    (:class:`~recbole_automl.model.abstract_recommender.PairScoringRecommender`).
    """

    def __init__(self, config, dataset):
        super().__init__(config, dataset)
        self.embedding_size = config["embedding_size"]  # width of user and item embeddings
        self.operations = _check_operations(config)  # the supernet's operations, or the one
        self.searching = config["interaction"] is None
        mlp = config["interaction_mlp"]  # {user: [...], item: [...]} found by a search, or ~
        hidden = config["mlp_hidden_size"]  # hidden units of each element-wise network
        self.user_embedding = nn.Embedding(self.n_users, self.embedding_size)
        # Optional per-user and per-item offsets (not in the paper): they absorb what an
        # additive operation would otherwise win the search with (popularity, rating bias).
        self.offsets = None
        if uses_offsets(config):
            self.offsets = nn.ModuleDict({"user": nn.Embedding(self.n_users, 1),
                                          "item": nn.Embedding(self.n_items, 1)})  # fmt: skip
        self.item_embedding = nn.Embedding(self.n_items, self.embedding_size)
        dims = {op: interaction_dim(op, self.embedding_size) for op in self.operations}
        self.heads = nn.ModuleDict({op: PredictionHead("VEC", dim) for op, dim in dims.items()})
        self.mlps = None
        if self.searching or mlp is not None:
            self.mlps = nn.ModuleDict({side: ElementwiseMLP(hidden) for side in SIDES})
        self.apply(xavier_normal_initialization)
        if self.offsets is not None:
            for table in self.offsets.values():
                nn.init.zeros_(table.weight)
        # While searching: the operation every score uses instead of the argmax (the
        # warm-up's turn, or a one-shot evaluation of each operation); None for the argmax.
        self.fixed_operation = None
        if self.searching:
            self.alpha = nn.Parameter(0.5 + 1e-3 * torch.randn(len(self.operations)))
        elif mlp is not None:
            self._load_mlps(mlp)

    def _load_mlps(self, mlp):
        if not isinstance(mlp, dict) or set(mlp) != set(SIDES):
            raise ConfigError(
                f"Config key 'interaction_mlp' must be ~ or {{user: [...], item: [...]}}, "
                f"got {mlp!r}."
            )
        for side in SIDES:
            try:
                self.mlps[side].load_flat(mlp[side])
            except (TypeError, ValueError) as error:
                raise ConfigError(f"Config key 'interaction_mlp', {side}: {error}.") from None
            self.mlps[side].requires_grad_(False)  # found by the search; only retrained around

    # --- the search's two sets of parameters -------------------------------------------
    def architecture_parameters(self):
        """Operation weights and element-wise networks: stepped on validation batches."""
        return [self.alpha, *self.mlps.parameters()]

    def weight_parameters(self):
        """Embeddings, heads and bias: stepped on training batches."""
        architecture = {id(p) for p in self.architecture_parameters()}
        return [p for p in self.parameters() if id(p) not in architecture]

    def clip_alpha(self):
        """Keep the operation weights in [0, 1] (the proximal step's constraint)."""
        with torch.no_grad():
            self.alpha.clamp_(0.0, 1.0)

    @property
    def interaction(self):
        """The operation the model uses now (while searching: ``fixed_operation``, else the
        argmax of ``alpha``)."""
        if self.searching:
            if self.fixed_operation is not None:
                return self.fixed_operation
            return self.operations[int(self.alpha.argmax())]
        return self.operations[0]

    def operation_weights(self):
        """``{operation: alpha}`` of the supernet."""
        return dict(zip(self.operations, self.alpha.detach().cpu().tolist()))

    def architecture(self):
        """The stand-alone model the supernet stands for now, as config values."""
        mlp = {side: self.mlps[side].flat() for side in SIDES} if self.mlps is not None else None
        return {"interaction": self.interaction, "interaction_mlp": mlp}

    # --- scores ---------------------------------------------------------------------------
    @torch.no_grad()
    def _project_heads(self):
        """Project every head's weights onto the unit L2 ball (projected gradient descent).

        Done before use, as in the original code; only a head that a step moved out of the
        ball is touched, so a graph that already used its weights stays valid.
        """
        for head in self.heads.values():
            norm = head.weight.norm()
            if norm > 1.0 + 1e-5:
                head.weight.div_(norm)

    def _vectors(self, user, item):
        """The embeddings of ``user`` and ``item`` ids (``None``: every item) through the
        element-wise networks, if the model has them. A network sees each distinct id of a
        batch once (the same values; batches repeat ids)."""
        self._project_heads()
        return self._vector("user", self.user_embedding, user), self._vector(
            "item", self.item_embedding, item
        )

    def _vector(self, side, table, ids):
        if ids is None:
            rows = table.weight
            return rows if self.mlps is None else self.mlps[side](rows)
        if self.mlps is None:
            return table(ids)
        unique, inverse = torch.unique(ids, return_inverse=True)
        return self.mlps[side](table(unique))[inverse]

    def _offset(self, user, item):
        """The global bias, plus the user's and item's offsets if the model has them."""
        if self.offsets is None:
            return self.bias
        user_offset = self.offsets["user"](user).squeeze(-1)
        return self.bias + user_offset + self.offsets["item"](item).squeeze(-1)

    def forward(self, user, item, observed=False):
        """Scores of (user, item) pairs with the current operation (``observed`` is unused:
        SIF embeds ids, not histories)."""
        u, v = self._vectors(user, item)
        op = self.interaction
        return self._offset(user, item) + self.heads[op](INTERACTIONS[op](u, v))

    def supernet_forward(self, user, item, observed=False):
        """Scores summed over every operation, weighted by the binarised ``alpha``.

        The forward value is that of the argmax operation; the gradient reaches every
        component of ``alpha`` (a straight-through estimate, as NASP's proximal step).
        """
        u, v = self._vectors(user, item)
        one_hot = torch.zeros_like(self.alpha)
        one_hot[self.alpha.argmax()] = 1.0
        weights = self.alpha + (one_hot - self.alpha).detach()
        score = self._offset(user, item)
        for weight, op in zip(weights, self.operations):
            score = score + weight * self.heads[op](INTERACTIONS[op](u, v))
        return score

    def architecture_loss(self, interaction):
        """The training objective of the supernet, for the architecture step."""
        return self.loss(interaction, self.supernet_forward)

    def full_sort_predict(self, interaction):
        user = interaction[self.USER_ID]
        u, v = self._vectors(user, None)
        op = self.interaction
        offset = self._offset(user.unsqueeze(1), torch.arange(self.n_items, device=user.device))
        return (offset + score_matrix(op, self.heads[op], u, v)).reshape(-1)
