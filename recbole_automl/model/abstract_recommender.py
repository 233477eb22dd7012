"""What the plugin's collaborative-filtering models (AutoCF, SIF) share: one training
objective over scored (user, item) pairs, for implicit or explicit feedback."""

import torch
import torch.nn as nn
import torch.nn.functional as F
from recbole.model.abstract_recommender import GeneralRecommender


class PairScoringRecommender(GeneralRecommender):
    """A general recommender defined by ``forward(user, item, observed)``, the score of pairs.

    ``observed`` says that the pairs are in the training matrix (a model that encodes
    interaction histories leaves the pair out of its own history); models that only embed
    ids ignore it. The training objective follows ``loss_type``: ``BPR`` (pairwise,
    implicit feedback), ``CE`` (pointwise with RecBole's sampled negatives) or ``MSE``
    (rating regression, from a global bias set to the mean training rating).
    """

    def __init__(self, config, dataset):
        super().__init__(config, dataset)
        self.loss_type = config["loss_type"]  # BPR, CE or MSE (Config rejects others)
        self.LABEL = config["LABEL_FIELD"]
        mean = dataset.inter_feat[self.LABEL].float().mean() if self.loss_type == "MSE" else 0.0
        self.bias = nn.Parameter(torch.full((1,), float(mean)))

    def calculate_loss(self, interaction):
        return self.loss(interaction, self.forward)

    def loss(self, interaction, score):
        """The training objective of ``interaction`` with ``score(user, item, observed)``."""
        user = interaction[self.USER_ID]
        item = interaction[self.ITEM_ID]
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

    def predict(self, interaction):
        score = self.forward(interaction[self.USER_ID], interaction[self.ITEM_ID])
        return torch.sigmoid(score) if self.loss_type == "CE" else score
