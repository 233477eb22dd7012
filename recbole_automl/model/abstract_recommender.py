"""What the plugin's models share: one training objective over scored (user, item) pairs
for the collaborative-filtering models (AutoCF, SIF), and one wrapper of a RecBole
context-aware ``base_model`` for the methods that change such a model (PEP, AutoCross)."""

import torch
import torch.nn as nn
import torch.nn.functional as F
from recbole.model.abstract_recommender import ContextRecommender, GeneralRecommender
from recbole.utils import InputType, ModelType
from recbole.utils import get_model as recbole_get_model

from recbole_automl.model.layers import SparseRows
from recbole_automl.utils import ConfigError

# Losses beyond RecBole's BPR (pairs) and CE (labelled rows), by the input they train on.
PAIRWISE_LOSSES = ("softmax",)  # pairs: the sampled negative is not used
POINTWISE_LOSSES = ("MSE",)


class PairScoringRecommender(GeneralRecommender):
    """A general recommender defined by ``forward(user, item, observed)``, the score of pairs.

    ``observed`` says that the pairs are in the training matrix (a model that encodes
    interaction histories leaves the pair out of its own history); models that only embed
    ids ignore it. The training objective follows ``loss_type``: ``BPR`` (pairwise,
    implicit feedback), ``CE`` (pointwise with RecBole's sampled negatives), ``softmax``
    (every item a negative, for models with :meth:`score_rows`) or ``MSE`` (rating
    regression, from a global bias set to the mean training rating).
    """

    def __init__(self, config, dataset):
        super().__init__(config, dataset)
        self.loss_type = config["loss_type"]  # BPR, CE, softmax or MSE (Config rejects others)
        self.LABEL = config["LABEL_FIELD"]
        mean = dataset.inter_feat[self.LABEL].float().mean() if self.loss_type == "MSE" else 0.0
        self.bias = nn.Parameter(torch.full((1,), float(mean)))
        self.observed = None  # softmax: the training items of each user, left out as negatives
        self.softmax_leave_out = False
        if self.loss_type == "softmax":
            if type(self).score_rows is PairScoringRecommender.score_rows:
                raise ConfigError(
                    f"Config key 'loss_type': softmax scores every item of a user at once, "
                    f"which {type(self).__name__} does not; use BPR or CE."
                )
            self.observed = SparseRows(dataset.inter_matrix(form="csr"))
            self.softmax_leave_out = bool(config["softmax_leave_out"])

    def calculate_loss(self, interaction):
        return self.loss(interaction, self.forward)

    def loss(self, interaction, score):
        """The training objective of ``interaction`` with ``score(user, item, observed)``."""
        user = interaction[self.USER_ID]
        item = interaction[self.ITEM_ID]
        if self.loss_type == "softmax":
            return self.softmax_loss(user, item)
        if self.loss_type == "BPR":
            pos = score(user, item, observed=True)
            neg = score(user, interaction[self.NEG_ITEM_ID])
            return -F.logsigmoid(pos - neg).mean()
        label = interaction[self.LABEL].float()
        if self.loss_type == "MSE":
            return F.mse_loss(score(user, item, observed=True), label)
        # CE: sampled negatives (label 0) are not in the training matrix.
        observed = label > 0
        logits = torch.empty_like(label)
        logits[observed] = score(user[observed], item[observed], observed=True)
        logits[~observed] = score(user[~observed], item[~observed])
        return F.binary_cross_entropy_with_logits(logits, label)

    def softmax_loss(self, user, item):
        """Cross-entropy of each positive pair's item among all items (the multinomial
        likelihood of Mult-VAE, Liang et al., WWW 2018; a full softmax, Covington et al.,
        RecSys 2016): the user's other training items are neither targets nor negatives,
        and the positive is scored as an observed pair (left out of the user's history).

        The negatives are scored once per distinct user of the batch, from the user's
        whole training history (as at test time), so a step scores (distinct users x
        n_items) pairs, about a third of the batch's rows on ml-100k; with
        ``softmax_leave_out`` each pair's negatives are scored with its positive left out
        of the history instead (a row per pair; the same loss for models of ids only).
        """
        if self.softmax_leave_out:
            rows, exclude, inverse = user, item, None
        else:
            rows, inverse = torch.unique(user, return_inverse=True)
            exclude = None
        scores = self.score_rows(rows, exclude=exclude)
        pair, columns, _ = self.observed.entries(rows)
        scores = scores.index_put((pair, columns), scores.new_tensor(float("-inf")))
        negatives = torch.logsumexp(scores, 1)
        if inverse is not None:
            negatives = negatives[inverse]
        positive = self.forward(user, item, observed=True)
        # -log(e^pos / (e^pos + sum of e^neg)) = softplus(logsumexp(neg) - pos)
        return F.softplus(negatives - positive).mean()

    def score_rows(self, user, exclude=None):
        """Scores of every item for each of ``user`` (B, n_items); ``exclude`` names an item
        of each user's training history to leave out of it. Models that can score a row at
        once implement it (it makes ``loss_type: softmax`` available)."""
        raise NotImplementedError

    def predict(self, interaction):
        score = self.forward(interaction[self.USER_ID], interaction[self.ITEM_ID])
        return torch.sigmoid(score) if self.loss_type == "CE" else score


class ContextWrapper(ContextRecommender):
    """A RecBole context-aware model (``base_model``: FM, DeepFM, AutoInt, ...) built as
    RecBole builds it, on ``base_dataset`` (default: ``dataset``; a wrapper that adds
    fields passes a dataset that declares them).

    Scores, losses and predictions are the base model's, on what :meth:`inputs` makes of
    each interaction. ``ContextRecommender``'s own tables are dropped: the base model's are
    the ones in use.
    """

    type = ModelType.CONTEXT
    input_type = InputType.POINTWISE

    def __init__(self, config, dataset, base_dataset=None):
        super().__init__(config, dataset)
        base_class = base_model_class(config["base_model"])
        for name in ("token_embedding_table", "float_embedding_table", "token_seq_embedding_table",
                     "float_seq_embedding_table", "first_order_linear"):  # fmt: skip
            if hasattr(self, name):
                delattr(self, name)
        self.base = base_class(config, dataset if base_dataset is None else base_dataset)

    def inputs(self, interaction):
        """What the base model sees of ``interaction`` (default: the interaction itself)."""
        return interaction

    def calculate_loss(self, interaction):
        return self.base.calculate_loss(self.inputs(interaction))

    def predict(self, interaction):
        return self.base.predict(self.inputs(interaction))


def base_model_class(name):
    """The RecBole context-aware model class called ``name`` (a wrapper's base model)."""
    try:
        found = recbole_get_model(name)
    except ValueError:  # RecBole's "model_name [...] is not in [...]"
        found = None
    if found is None or not issubclass(found, ContextRecommender):
        raise ConfigError(
            f"Config key 'base_model' must name a RecBole context-aware model (e.g. LR, FM, "
            f"DeepFM, AutoInt), got {name!r}."
        )
    return found
