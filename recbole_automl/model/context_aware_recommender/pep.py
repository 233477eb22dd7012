r"""PEP: learnable embedding sizes for RecBole's context-aware models.

Reference:
    Siyi Liu, Chen Gao, Yihong Chen, Depeng Jin, Yong Li. "Learnable Embedding Sizes for
    Recommender Systems." ICLR 2021. (The IJCAI-21 tutorial "Automated Recommender System",
    Yao, Li, Gao, Zhao, Zhang.)

One wrapper for every context-aware model: ``base_model`` (FM, DeepFM, AutoInt, ... any
RecBole model built on ``ContextRecommender``) is built as RecBole builds it, then each of
its feature embedding tables (token, token sequence and float fields; not the first-order
weights) is replaced by a :class:`~recbole_automl.model.layers.PrunedEmbedding`. Scores,
losses and predictions are the base model's.
"""

import numpy as np
import torch

from recbole_automl.model.abstract_recommender import ContextWrapper
from recbole_automl.model.layers import PrunedEmbedding


def _fields_of_rows(field_dims):
    return torch.as_tensor(np.repeat(np.arange(len(field_dims)), field_dims), dtype=torch.long)


def _feature_tables(base):
    """(owner module, attribute name, field of each row) of every feature embedding table of
    ``base`` (a list's tables are its attributes "0", "1", ...)."""
    tables = []
    for name, dims in (("token_embedding_table", "token_field_dims"),
                       ("float_embedding_table", "float_field_dims")):  # fmt: skip
        if hasattr(base, name):
            tables.append((getattr(base, name), "embedding", _fields_of_rows(getattr(base, dims))))
    for name in ("token_seq_embedding_table", "float_seq_embedding_table"):
        for i, table in enumerate(getattr(base, name, [])):
            tables.append(
                (getattr(base, name), str(i), torch.zeros(table.num_embeddings, dtype=torch.long))
            )
    return tables


class PEP(ContextWrapper):
    """A context-aware ``base_model`` whose feature embeddings PEP prunes (module docstring).

    :class:`~recbole_automl.trainer.pep_trainer.PEPTrainer` searches the masks and retrains.
    """

    def __init__(self, config, dataset):
        granularity = config["threshold_granularity"]  # which weights share a threshold
        super().__init__(config, dataset)
        self.pruned = []
        for owner, key, row_fields in _feature_tables(self.base):
            pruned = PrunedEmbedding(
                getattr(owner, key), row_fields, granularity, config["threshold_init"]
            )
            setattr(owner, key, pruned)
            self.pruned.append(pruned)

    def embedding_size_total(self):
        """Weights of the feature embedding tables, pruned or not."""
        return sum(table.weight.numel() for table in self.pruned)

    def embedding_nonzero(self):
        """Non-zero weights of the feature embedding tables in use."""
        return sum(table.nonzero() for table in self.pruned)

    def parameter_count(self):
        """Non-zero embedding weights plus every other weight of the model (no thresholds)."""
        pruned = {id(p) for table in self.pruned for p in (table.weight, table.threshold)}
        rest = sum(p.numel() for p in self.parameters() if id(p) not in pruned)
        return self.embedding_nonzero() + rest

    def masks(self):
        """The current non-zero pattern of every pruned table, in order."""
        with torch.no_grad():
            return [table.table() != 0 for table in self.pruned]

    def fix(self, masks, layout="elements", in_use=False):
        """Retrain mode: every table keeps its weights times its mask, no thresholds;
        ``layout`` prefix: each row keeps as many weights, its first dimensions
        (:func:`prefix_mask`); ``in_use``: the values in use (see ``PrunedEmbedding.fix``)."""
        for table, mask in zip(self.pruned, masks):
            mask = prefix_mask(mask) if layout == "prefix" else mask
            table.fix(mask.to(table.weight.device), in_use)


def prefix_mask(mask):
    """Each row of ``mask`` (rows x dims, bool) as a prefix: its first k dimensions, k the
    row's kept weights. A row's size is what the search learned, and two rows share
    min(k_i, k_j) dimensions: a model of inner products (FM) can use them all, where
    scattered masks of k_i and k_j kept weights share about k_i * k_j / dims."""
    sizes = mask.sum(dim=1, keepdim=True)
    return torch.arange(mask.shape[1], device=mask.device) < sizes
