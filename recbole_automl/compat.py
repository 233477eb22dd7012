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


def apply():
    """Install the fixes; idempotent, and a no-op where RecBole already works."""
    _restore_numpy_aliases()
    _restore_dok_update()


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
