r"""LambdaOptBPR: MF-BPR whose L2 regularization coefficients are learned on validation data.

Reference:
    Yihong Chen, Bei Chen, Xiangnan He, Chen Gao, Yong Li, Jian-Guang Lou, Yue Wang.
    "λOpt: Learn to Regularize Recommender Models in Finer Levels." KDD 2019. (The IJCAI-21
    tutorial "Automated Recommender System", Yao, Li, Gao, Zhao, Zhang.)

The training objective of a batch of (user, positive, negative) triples is BPR plus
``sum(lambda * theta ** 2) / batch size`` over the batch's user, positive and negative
embedding rows. The coefficients ``lambda`` have a granularity (``reg_granularity``):

========================  ==============================  ==============================
granularity               users' coefficients             items' coefficients
========================  ==============================  ==============================
global                    one number, shared              (the users')
dimension                 one per dimension, shared       (the users')
user                      one per user                    none
item                      none                            one per item
user+item                 one per user                    one per item
dimension+user            one per user and dimension      one per dimension
dimension+item            one per dimension               one per item and dimension
dimension+user+item       one per user and dimension      one per item and dimension
fixed                     ``reg_weight``, not learned     (the users')
========================  ==============================  ==============================

:class:`~recbole_automl.trainer.lambdaopt_trainer.LambdaOptBPRTrainer` learns them; they
are parameters of the model (saved with it) that the model's optimizer does not step.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F
from recbole.model.abstract_recommender import GeneralRecommender
from recbole.model.init import xavier_normal_initialization
from recbole.utils import InputType

# granularity -> (users' coefficients, items' coefficients), as data. "shared": the items
# use the users' tensor; None: no penalty on that side.
GRANULARITIES = {
    "global": ("one", "shared"),
    "dimension": ("dimension", "shared"),
    "user": ("row", None),
    "item": (None, "row"),
    "user+item": ("row", "row"),
    "dimension+user": ("row-dimension", "dimension"),
    "dimension+item": ("dimension", "row-dimension"),
    "dimension+user+item": ("row-dimension", "row-dimension"),
    "fixed": ("one", "shared"),
}


def _coefficients(kind, rows, dim, init):
    shape = {"one": (1, 1), "dimension": (1, dim), "row": (rows, 1), "row-dimension": (rows, dim)}
    return nn.Parameter(torch.full(shape[kind], float(init)))


class LambdaOptBPR(GeneralRecommender):
    """Matrix factorisation trained with BPR and learned fine-grained L2 coefficients."""

    input_type = InputType.PAIRWISE

    def __init__(self, config, dataset):
        super().__init__(config, dataset)
        self.embedding_size = config["embedding_size"]  # width of user and item embeddings
        self.granularity = config["reg_granularity"]  # which coefficients exist (table above)
        init = config["reg_weight"]  # the fixed coefficient, or the learned ones' start
        self.user_embedding = nn.Embedding(self.n_users, self.embedding_size)
        self.item_embedding = nn.Embedding(self.n_items, self.embedding_size)
        self.apply(xavier_normal_initialization)
        user_kind, item_kind = GRANULARITIES[self.granularity]
        size = self.embedding_size
        self.user_lambda = _coefficients(user_kind, self.n_users, size, init) if user_kind else None
        self.shared = item_kind == "shared"
        self.item_lambda = None
        if item_kind not in (None, "shared"):
            self.item_lambda = _coefficients(item_kind, self.n_items, size, init)
        self.learned = self.granularity != "fixed"
        if not self.learned:
            self.user_lambda.requires_grad_(False)

    def lambda_parameters(self):
        """The learned coefficients (none for ``fixed``)."""
        if not self.learned:
            return []
        return [p for p in (self.user_lambda, self.item_lambda) if p is not None]

    def embedding_parameters(self):
        return [self.user_embedding.weight, self.item_embedding.weight]

    def coefficients(self, side, ids):
        """The coefficients of ``ids`` on ``side`` (``user`` or ``item``), broadcastable to
        their embeddings; ``None`` if that side is not regularized."""
        tensor = self._lambda(side)
        if tensor is None:
            return None
        return tensor[ids] if tensor.shape[0] > 1 else tensor

    def _lambda(self, side):
        """The coefficient tensor of ``side`` (the users' when shared), or ``None``."""
        return self.user_lambda if side == "user" or self.shared else self.item_lambda

    def scores(self, user_table, item_table, user, pos_item, neg_item):
        """BPR margins of triples with the given embedding tables (real or simulated)."""
        u = user_table[user]
        return (u * item_table[pos_item]).sum(-1) - (u * item_table[neg_item]).sum(-1)

    def bpr_loss(self, interaction, user_table=None, item_table=None):
        """BPR loss of a batch, with the model's tables unless others are given."""
        user_table = self.user_embedding.weight if user_table is None else user_table
        item_table = self.item_embedding.weight if item_table is None else item_table
        margin = self.scores(user_table, item_table, *self._triples(interaction))
        return -F.logsigmoid(margin).mean()

    def penalty(self, interaction):
        """``sum(lambda * theta ** 2)`` over the batch's rows, divided by the batch size."""
        user, pos_item, neg_item = self._triples(interaction)
        total = torch.zeros((), device=user.device)
        for side, ids, table in (
            ("user", user, self.user_embedding.weight),
            ("item", pos_item, self.item_embedding.weight),
            ("item", neg_item, self.item_embedding.weight),
        ):
            coefficients = self.coefficients(side, ids)
            if coefficients is not None:
                total = total + (coefficients * table[ids].pow(2)).sum()
        return total / user.shape[0]

    def table_penalty_gradients(self):
        """``2 * lambda * theta`` over every row of the user and item tables (``None`` for a
        side without coefficients): the penalty's gradient in the original code's simulated
        step (its real step penalises the batch's rows divided by the batch size)."""
        gradients = []
        for side, table in (("user", self.user_embedding), ("item", self.item_embedding)):
            tensor = self._lambda(side)
            gradients.append(None if tensor is None else 2 * tensor * table.weight.detach())
        return gradients

    def _triples(self, interaction):
        return (
            interaction[self.USER_ID],
            interaction[self.ITEM_ID],
            interaction[self.NEG_ITEM_ID],
        )

    def calculate_loss(self, interaction):
        return self.bpr_loss(interaction) + self.penalty(interaction)

    def clamp_lambda(self):
        """Keep the coefficients non-negative."""
        with torch.no_grad():
            for p in self.lambda_parameters():
                p.clamp_(min=0.0)

    def predict(self, interaction):
        u = self.user_embedding(interaction[self.USER_ID])
        return (u * self.item_embedding(interaction[self.ITEM_ID])).sum(-1)

    def full_sort_predict(self, interaction):
        u = self.user_embedding(interaction[self.USER_ID])
        return (u @ self.item_embedding.weight.T).reshape(-1)
