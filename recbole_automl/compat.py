"""Narrow fixes that let RecBole 1.2.1 run on today's numpy, scipy and torch.

Everything this project knows about RecBole's breakages lives here (see
``shared/notes/recbole-1.2.1.md`` for the measurements behind each fix):

* NumPy 2 removed ``np.float_``, ``np.complex_`` and ``np.unicode_``, which
  ``Config.compatibility_settings`` reads on every construction.
* SciPy >= 1.12 dropped ``dok_matrix._update``, which RecBole's graph models
  (LightGCN, NGCF, ...) use to fill their adjacency matrix.
* torch >= 2.6 loads with ``weights_only=True``, but RecBole checkpoints pickle
  the ``Config``. Only checkpoints written by this run's trainer are loaded with
  ``weights_only=False`` (:func:`load_best_checkpoint`); ``torch.load`` itself
  is never replaced.
* ``recbole.quick_start`` imports ray at module level; this package never
  imports it and ships its own quick start instead.
* KGAT builds its initial attention matrix with DGL, which has no build for
  today's torch: without DGL, ``KGAT.init_graph`` is the same matrix built with
  SciPy from the graph's edge lists (each relation's adjacency, rows normalised
  by the head's out-degree, summed), and the DGL graph KGAT keeps is not built.

pandas 3 is avoided by the install (``pandas<3``), not patched.
"""

import numpy as np
import scipy.sparse as sp
import torch

_NUMPY_ALIASES = {"float_": np.float64, "complex_": np.complex128, "unicode_": np.str_}


def _restore_numpy_aliases():
    for name, value in _NUMPY_ALIASES.items():
        if not hasattr(np, name):
            setattr(np, name, value)


def _dok_update(self, data):
    # SciPy >= 1.12 keeps a dok matrix's entries in ``_dict``; RecBole only
    # ever passes a dict of (row, col) -> value, which needs no validation.
    self._dict.update(data)


def _restore_dok_update():
    if not hasattr(sp.dok_matrix, "_update"):
        sp.dok_matrix._update = _dok_update


def _kgat_init_graph(self):
    """KGAT's initial attention matrix, as its DGL code builds it: for each relation
    1 .. n_relations - 1, the (head, tail) adjacency of its edges with each row divided
    by its sum; the sum of these, as a sparse tensor."""
    heads, tails, relations = (x.cpu().numpy() for x in (self.all_hs, self.all_ts, self.all_rs))
    shape = tuple(self.matrix_size)
    total = sp.csr_matrix(shape, dtype=np.float64)
    for relation in range(1, self.n_relations):
        edges = relations == relation
        ones = np.ones(int(edges.sum()))
        adjacency = sp.coo_matrix((ones, (heads[edges], tails[edges])), shape=shape).tocsr()
        rowsum = np.asarray(adjacency.sum(1)).flatten()
        inverse = np.divide(1.0, rowsum, out=np.zeros_like(rowsum), where=rowsum > 0)
        total = total + sp.diags(inverse).dot(adjacency)
    total = total.tocoo()
    indices = torch.as_tensor(np.vstack([total.row, total.col]), dtype=torch.long)
    values = torch.as_tensor(total.data, dtype=torch.float32)
    return torch.sparse_coo_tensor(indices, values, self.matrix_size).to(self.device)


def _without_dgl_graph(ckg_graph):
    def wrapped(self, form="coo", value_field=None):
        if form == "dgl":
            return None  # (only KGAT asks for it, for the matrix _kgat_init_graph builds)
        return ckg_graph(self, form, value_field)

    wrapped.__wrapped__ = ckg_graph
    return wrapped


def _kgat_without_dgl():
    try:
        import dgl  # noqa: F401

        return
    except ImportError:
        pass
    from recbole.data.dataset import KnowledgeBasedDataset
    from recbole.model.knowledge_aware_recommender import KGAT

    if not hasattr(KnowledgeBasedDataset.ckg_graph, "__wrapped__"):
        KnowledgeBasedDataset.ckg_graph = _without_dgl_graph(KnowledgeBasedDataset.ckg_graph)
    KGAT.init_graph = _kgat_init_graph


def _import_sequential_models_without_anomaly_mode():
    enabled = torch.is_anomaly_enabled()
    check_nan = torch.is_anomaly_check_nan_enabled()
    import recbole.model.sequential_recommender  # noqa: F401  (sine.py turns it on)

    torch.autograd.set_detect_anomaly(enabled, check_nan)


def apply():
    """Install the fixes; idempotent, and a no-op where RecBole already works."""
    _restore_numpy_aliases()
    _restore_dok_update()
    _kgat_without_dgl()
    _import_sequential_models_without_anomaly_mode()


def load_best_checkpoint(trainer):
    """Load the best model that ``trainer.fit`` saved in this run into ``trainer.model``.

    RecBole's ``Trainer.evaluate(load_best_model=True)`` fails on torch >= 2.6
    because the checkpoint pickles the ``Config``. The file is the one this
    trainer wrote itself, so it is trusted and read with ``weights_only=False``.
    """
    checkpoint = torch.load(
        trainer.saved_model_file, map_location=trainer.device, weights_only=False
    )
    trainer.model.load_state_dict(checkpoint["state_dict"])
    trainer.model.load_other_parameter(checkpoint.get("other_parameter"))
    return checkpoint
