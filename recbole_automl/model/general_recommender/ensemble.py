r"""ModelEnsemble: a weighted sum of general models' scores, the weights chosen on validation.

Reference:
    Rich Caruana, Alexandru Niculescu-Mizil, Geoff Crew, Alex Ksikes. "Ensemble Selection
    from Libraries of Models." ICML 2004. (LensKit-Auto's greedy ensembles follow it.)

Each member (``ensemble_members``: a model name and its settings, e.g. the best trial of
each model of a model search) is a RecBole or plugin general model, built from its own
``Config`` on the ensemble's dataset and trained by its own trainer
(:class:`~recbole_automl.trainer.ensemble_trainer.ModelEnsembleTrainer`). A user's score of
an item is ``sum_m w_m * z_m``, where ``z_m`` is member ``m``'s scores of that user's items
standardised over all items (members score on different scales) and ``w_m`` its share of
``ensemble_weights``. It ranks full item lists only (RecBole's ``full`` evaluation mode).
:func:`~recbole_automl.methods.model_search.select_ensemble` chooses the weights greedily,
on the validation split.
"""

import random

import numpy as np
import torch
import torch.nn as nn
from recbole.data.interaction import Interaction
from recbole.model.abstract_recommender import GeneralRecommender
from recbole.utils import InputType, ModelType

from recbole_automl.utils import ConfigError, init_seed

# Keys of the ensemble itself, not passed on to its members.
ENSEMBLE_KEYS = ("model", "ensemble_members", "ensemble_weights")


def member_config(config, member):
    """The config of one member, of the ensemble config's own class (the plugin's ``Config``,
    which finds plugin and RecBole models): the ensemble's settings (data, evaluation), then
    the member's model and settings."""
    shared = {k: v for k, v in config.external_config_dict.items() if k not in ENSEMBLE_KEYS}
    settings = {k: v for k, v in member.items() if k != "model"}
    return type(config)(
        member["model"], config["dataset"], config_dict={**shared, **settings},
        read_cmd_line=False,
    )  # fmt: skip


def rng_state():
    """Every random state a RecBole run draws from (Python, NumPy, torch)."""
    return random.getstate(), np.random.get_state(), torch.get_rng_state()


def set_rng_state(state):
    random.setstate(state[0])
    np.random.set_state(state[1])
    torch.set_rng_state(state[2])


def check_members(members, weights):
    if (
        not isinstance(members, list)
        or not members
        or not all(isinstance(m, dict) and isinstance(m.get("model"), str) for m in members)
    ):
        raise ConfigError(
            "Config key 'ensemble_members' must be a non-empty list of {model: Name, "
            f"<its settings>}} mappings, got {members!r}."
        )
    ok = isinstance(weights, list) and len(weights) == len(members)
    if not ok or any(not isinstance(w, (int, float)) or w < 0 for w in weights) or not sum(weights):
        raise ConfigError(
            f"Config key 'ensemble_weights' must be {len(members)} numbers >= 0 (one per "
            f"member of ensemble_members), not all 0, got {weights!r}."
        )


class ModelEnsemble(GeneralRecommender):
    """The members of ``ensemble_members`` and their ``ensemble_weights`` (see the module
    docstring)."""

    input_type = InputType.POINTWISE
    type = ModelType.TRADITIONAL

    def __init__(self, config, dataset):
        super().__init__(config, dataset)
        members, weights = config["ensemble_members"], config["ensemble_weights"]
        check_members(members, weights)
        self.member_configs = [member_config(config, m) for m in members]
        self.members = nn.ModuleList()
        self.rng_after_init = []
        for member in self.member_configs:
            if member.model_class.type not in (ModelType.GENERAL, ModelType.TRADITIONAL):
                raise ConfigError(
                    f"Config key 'ensemble_members': {member['model']} is not a general model."
                )
            init_seed(member["seed"], member["reproducibility"])  # as a run of it alone
            self.members.append(member.model_class(member, dataset).to(config["device"]))
            self.rng_after_init.append(rng_state())  # where its training starts from
        self.register_buffer("weights", torch.zeros(len(members)))
        self.set_weights(weights)
        self.dummy = nn.Parameter(torch.zeros(1))  # RecBole's trainer wants a parameter
        self._cache = None  # member -> standardised scores of every user (while selecting)

    def keep_members(self, indices):
        """Drop every member but those at ``indices``, trained as they are (the members that
        an ensemble selection gave a weight)."""
        self.members = nn.ModuleList(self.members[i] for i in indices)
        self.member_configs = [self.member_configs[i] for i in indices]
        self.rng_after_init = [self.rng_after_init[i] for i in indices]
        self.weights = torch.zeros(len(indices), device=self.weights.device)

    def set_weights(self, weights):
        weights = torch.as_tensor(weights, dtype=torch.float, device=self.weights.device)
        self.weights.copy_(weights / weights.sum())

    def calculate_loss(self, interaction):
        return self.dummy.sum()  # the members train themselves (ModelEnsembleTrainer)

    def predict(self, interaction):
        raise NotImplementedError("ModelEnsemble ranks full item lists only (eval mode full).")

    def member_scores(self, index, interaction):
        """Member ``index``'s scores of every item for the users of ``interaction``,
        standardised per user: (users, items)."""
        if self._cache is not None:
            return self._cache[index][interaction[self.USER_ID]]
        users = interaction[self.USER_ID]
        scores = self._all_scores(self.members[index], users).float()
        std = scores.std(dim=1, keepdim=True).clamp_min(1e-12)
        return (scores - scores.mean(dim=1, keepdim=True)) / std

    def _all_scores(self, member, users, pairs=2**20):
        """(users, items) scores of ``member``; one without ``full_sort_predict`` (NeuMF)
        scores every pair with ``predict``, as RecBole's evaluator does."""
        try:
            return member.full_sort_predict(Interaction({self.USER_ID: users})).view(len(users), -1)
        except NotImplementedError:
            pass
        items = torch.arange(self.n_items, device=users.device)
        rows = []
        for chunk in users.split(max(1, pairs // self.n_items)):
            batch = Interaction({
                self.USER_ID: chunk.repeat_interleave(self.n_items),
                self.ITEM_ID: items.repeat(len(chunk)),
            })  # fmt: skip
            rows.append(member.predict(batch).view(len(chunk), -1))
        return torch.cat(rows)

    def full_sort_predict(self, interaction):
        total = 0.0
        for index, weight in enumerate(self.weights.tolist()):
            if weight > 0:
                total = total + weight * self.member_scores(index, interaction)
        return total.reshape(-1)

    @torch.no_grad()
    def cache_scores(self, users, batch_size=1024):
        """Keep every member's standardised scores of ``users`` (all of them, by id), so
        that evaluating other weights is a weighted sum (ensemble selection)."""
        self._cache = None
        self.eval()
        cache = []
        for index in range(len(self.members)):
            rows = torch.zeros(self.n_users, self.n_items, device=self.weights.device)
            for start in range(0, len(users), batch_size):
                batch = users[start : start + batch_size].to(self.weights.device)
                rows[batch] = self.member_scores(index, {self.USER_ID: batch})
            cache.append(rows)
        self._cache = cache

    def drop_cache(self):
        self._cache = None

    def select_weights(self, validate, rounds):
        """Greedy ensemble selection with replacement (Caruana et al., ICML 2004) over the
        trained members: start from the best member alone, then add, one at a time, the
        member that raises ``validate()`` (the validation score of the current weights,
        bigger is better) most, until none does or after ``rounds``. The weights are left
        at the selection's counts.

        Returns:
            (list of int, float, list of float): each member's count, the ensemble's score,
            and each member's score alone.
        """
        self.cache_scores(torch.arange(self.n_users))
        eye = np.eye(len(self.members), dtype=int)

        def score(counts):
            self.set_weights(counts)
            return float(validate())

        alone = [score(row) for row in eye]
        counts = eye[int(np.argmax(alone))].copy()
        best = max(alone)
        for _ in range(rounds):
            tries = [score(counts + row) for row in eye]
            if max(tries) <= best:
                break
            counts[int(np.argmax(tries))] += 1
            best = max(tries)
        self.set_weights(counts)
        self.drop_cache()
        return counts.tolist(), best, alone

    def other_parameter(self):
        return {"members": [m.other_parameter() for m in self.members]}

    def load_other_parameter(self, para):
        if para is None:
            return
        for member, values in zip(self.members, para["members"]):
            member.load_other_parameter(values)
