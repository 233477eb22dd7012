"""AutoCross's search of feature crosses on the training split (Luo et al., KDD 2019);
:class:`~recbole_automl.trainer.AutoCrossTrainer` runs it, then trains the base model on
the data plus the crosses.

The search, in the tutorial's terms:

- space: crosses of the atoms of :mod:`recbole_automl.model.feature_cross` (token fields,
  token_seq fields by element, floats discretized at several granularities), of order 2 up
  to ``autocross_max_order``, each with the vocabulary of its values seen
  ``autocross_min_count`` times in the training split;
- objective: the validation AUC of a field-wise logistic regression;
- training objective: the logistic loss on the training split;
- budget: ``autocross_max_crosses`` crosses, ``search_time`` seconds.

Loop (beam search). The field-wise LR starts as a logistic regression on every atom (a token
sequence's weights summed, as RecBole's LR sums them), trained on the training split until
its validation AUC stops rising. Each step then:

1. candidates: every second-order cross of atoms of different fields, and every selected
   cross extended by one atom of a field it lacks (up to the maximum order), less the
   selected ones;
2. successive mini-batch gradient descent (the tutorial's Algorithm 2): the shuffled
   training split is cut into ``2**R - 1`` blocks, ``R = ceil(log2(candidates))``; in round
   ``r`` every remaining candidate trains on the next ``2**(r - 1)`` blocks (the LR's weights
   frozen, only the candidate's, warm-started from the round before, with Adagrad), and the
   half with the best validation AUC goes on;
3. the last candidate standing is the step's best: if it raises the validation AUC by less
   than ``autocross_min_gain`` the search ends, else its weights join the frozen LR.

Each step is a journaled trial; the LR's weights are saved with it, so a rerun resumes after
the last finished step (a larger budget extends the search). The found producer is
``producer.json`` in the search folder (``best.yaml`` trains with it again, no search).
The test split is never used here.
"""

import math
import time

import torch
import torch.nn.functional as F
from scipy.stats import rankdata

from recbole_automl.model.feature_cross import (
    FeatureCrosser,
    FeatureProducer,
    cross_name,
    frequent,
    joined,
    vocabulary_ids,
)
from recbole_automl.search import Budget, SearchProgress, SearchState, Trial, TrialRecorder

MAX_BASE_EPOCHS = 20


def _describe(trial, budget, reused):
    source = " (from the journal)" if reused else ""
    return f"AutoCross {trial.point['cross'] or 'atoms'}{source}: valid AUC {trial.value:.4f}"


def auc(logits, labels):
    """ROC AUC of each row of ``logits`` (k, n) against 0/1 ``labels`` (n,), ties averaged."""
    ranks = torch.as_tensor(rankdata(logits.detach().cpu().numpy(), axis=-1))
    positive = labels.cpu().bool()
    pos = int(positive.sum())
    neg = len(positive) - pos
    if pos == 0 or neg == 0:
        raise ValueError("AUC needs positive and negative labels in the validation split")
    return (ranks[..., positive].sum(-1) - pos * (pos + 1) / 2) / (pos * neg)


def field_logits(weights, ids):
    """Each field's weights (k, V) summed over its ids (k, n, length); id 0 (padding, or a
    rare value) has no weight. (k, n)."""
    terms = weights.gather(1, ids.flatten(1)).view(ids.shape)
    return (terms * (ids > 0)).sum(-1)


def logits_of(weights, ids, offset, rows=None, joint=False):
    """Logits of k fields' weights (k, V) at their ids (k, n, length) plus a per-row offset:
    one logistic regression summing the fields (``joint``), else k of their own, (k, n)."""
    if rows is not None:
        ids, offset = ids[:, rows], offset[rows]
    terms = field_logits(weights, ids)
    return offset + (terms.sum(0) if joint else terms)


def descend(weights, optimizer, split, rows, batch_size, joint=False, fields=None):
    """One pass of mini-batch gradient descent over ``rows`` of ``split``, of ``weights`` or
    of their rows ``fields`` only."""
    ids = split.ids if fields is None else split.ids[fields]
    for batch in rows.split(batch_size):
        trained = weights if fields is None else weights[fields]
        logits = logits_of(trained, ids, split.offset, batch, joint)
        target = split.labels[batch].expand_as(logits)
        loss = F.binary_cross_entropy_with_logits(logits, target, reduction="sum") / len(batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


class Split:
    """One split's atom codes, labels, the ids of the fields being trained and the frozen
    LR's logit of each row (``offset``)."""

    def __init__(self, crosser, dataset, label_field):
        interaction = joined(dataset)
        with torch.no_grad():
            self.codes = crosser.atom_codes(interaction)
        self.labels = interaction[label_field].float()
        self.offset = torch.zeros_like(self.labels)
        self.length = max(c.shape[1] if c.dim() == 2 else 1 for c in self.codes.values())
        self.ids = None

    def cross_ids(self, producer, crosses, vocabularies):
        """Ids of ``crosses`` (k, rows, length): one per row, or a token sequence's, padded."""
        ids = torch.zeros(len(crosses), len(self.labels), self.length, dtype=torch.long)
        for i, (cross, vocabulary) in enumerate(zip(crosses, vocabularies)):
            row_ids = vocabulary_ids(producer.hashed(self.codes, cross), vocabulary)
            row_ids = row_ids.unsqueeze(1) if row_ids.dim() == 1 else row_ids
            ids[i, :, : row_ids.shape[1]] = row_ids
        return ids


class CrossSearch:
    """The beam search of AutoCross over ``producer``'s atoms (module docstring).

    Args:
        config (Config): ``autocross_*`` settings, ``seed``, ``search_time``.
        producer (FeatureProducer): the atoms (fitted on the training split), no crosses.
        train, valid (Split): the training and validation splits.
        folder (str): journal, checkpoint, plots.
    """

    def __init__(self, config, producer, train, valid, folder, logger):
        self.config, self.producer, self.train, self.valid = config, producer, train, valid
        self.folder, self.logger = folder, logger
        self.state = SearchState(folder) if folder else None
        self.generator = torch.Generator()

    @classmethod
    def on(cls, config, train_dataset, valid_dataset, folder, logger):
        """The search over the atoms of ``train_dataset``, scored on ``valid_dataset``."""
        label = config["LABEL_FIELD"]
        producer = FeatureProducer.fit(
            train_dataset, config["autocross_bins"], config["autocross_buckets"], label
        )
        crosser = FeatureCrosser(producer, train_dataset)
        train, valid = (Split(crosser, d, label) for d in (train_dataset, valid_dataset))
        return cls(config, producer, train, valid, folder, logger)

    def run(self, show_progress=False):
        """Search until the gain, the order, the crosses or the seconds run out; return the
        producer with the crosses found and the trials."""
        config = self.config
        state, trials = self.state.load()
        budget = Budget(config["autocross_max_crosses"] + 1, config["search_time"])
        progress = SearchProgress(budget.max_trials, "AutoCross search", not show_progress)
        recorder = TrialRecorder(
            budget, self.state, bigger=True, progress=progress, logger=self.logger,
            describe=_describe,
        )  # fmt: skip
        recorder.replay(trials)
        try:
            if state is None:
                state = self._base(recorder)
            self._replay(state)
            while not state["done"] and not budget.exhausted:
                state = self._step(state, recorder)
        finally:
            progress.close()
        producer = self.producer
        for cross, vocabulary in zip(state["crosses"], state["vocabularies"]):
            producer = producer.with_cross(cross, vocabulary)
        return producer, recorder.finished

    @staticmethod
    def _record(recorder, state, point, value, result, start):
        seconds = time.monotonic() - start
        number = len(recorder.finished)
        trial = Trial(
            number=number, round=number, point=point, value=value, result=result,
            curve=[value], epochs=1, seconds=round(seconds, 3),
            started=round(time.time() - seconds, 3),
        )  # fmt: skip
        recorder.record(trial, checkpoint=state)

    def _base(self, recorder):
        """The LR on every atom, trained while its validation AUC rises."""
        start = time.monotonic()
        self._encode_atoms()
        weights = torch.zeros(len(self.producer.atoms) + 1, self._width(), requires_grad=True)
        optimizer = torch.optim.Adagrad([weights], lr=self.config["autocross_learning_rate"])
        self.generator.manual_seed(self.config["seed"])
        best, best_weights = -1.0, weights.detach().clone()
        for _ in range(MAX_BASE_EPOCHS):
            rows = torch.randperm(len(self.train.labels), generator=self.generator)
            descend(weights, optimizer, self.train, rows, self.config["autocross_batch_size"], True)
            with torch.no_grad():
                score = float(auc(logits_of(weights, self.valid.ids, self.valid.offset, joint=True),
                                  self.valid.labels))  # fmt: skip
            if score <= best:
                break
            best, best_weights = score, weights.detach().clone()
        state = {"base": best_weights, "crosses": [], "vocabularies": [], "weights": [],
                 "auc": best, "done": False}  # fmt: skip
        point = {"cross": None, "atoms": list(self.producer.atoms)}
        self._record(recorder, state, point, best, {"auc": best}, start)
        return state

    def vocabularies(self, crosses):
        """The hashed values of each cross seen ``autocross_min_count`` times in training."""
        min_count = self.config["autocross_min_count"]
        return [frequent(self.producer.hashed(self.train.codes, c), min_count) for c in crosses]

    def _encode(self, crosses):
        """Vocabularies of ``crosses``; set both splits' ids to them."""
        vocabularies = self.vocabularies(crosses)
        for split in (self.train, self.valid):
            split.ids = split.cross_ids(self.producer, crosses, vocabularies)
        return vocabularies

    def _width(self):
        """Weights per field: ids go up to the largest vocabulary of the encoded fields."""
        return int(max(self.train.ids.max(), self.valid.ids.max())) + 1

    def _encode_atoms(self):
        """Set both splits' ids to the atoms' and a last field with id 1 in every row: the
        bias."""
        self._encode([[atom] for atom in self.producer.atoms])
        for split in (self.train, self.valid):
            bias = torch.zeros(1, len(split.labels), split.length, dtype=torch.long)
            bias[..., 0] = 1
            split.ids = torch.cat([split.ids, bias])

    def _replay(self, state):
        """Set every split's offset to the logits of the frozen LR of ``state``."""
        self._encode_atoms()
        for split in (self.train, self.valid):
            zeros = torch.zeros_like(split.labels)
            split.offset = logits_of(state["base"], split.ids, zeros, joint=True)
        if state["crosses"]:
            self._freeze(state["crosses"], state["vocabularies"], state["weights"])

    def _freeze(self, crosses, vocabularies, weights):
        """Add the logits of crosses with frozen ``weights`` to both splits' offsets."""
        for split in (self.train, self.valid):
            ids = split.cross_ids(self.producer, crosses, vocabularies)
            for i, w in enumerate(weights):  # each its own width: its vocabulary's
                split.offset = split.offset + field_logits(w[None], ids[i : i + 1])[0]

    def candidates(self, selected):
        """Second-order crosses of atoms of different fields, and each selected cross
        extended by an atom of a field it lacks, up to the maximum order (at most one
        token_seq atom in a cross); none selected."""
        producer, atoms = self.producer, list(self.producer.atoms)
        order = {atom: i for i, atom in enumerate(atoms)}
        bases = [()] + [tuple(c) for c in selected if len(c) < self.config["autocross_max_order"]]
        pool = set()
        for base in bases:
            for first in [base] if base else [(a,) for a in atoms]:
                used = {producer.field_of(a) for a in first}
                for atom in atoms:
                    both_sequences = producer.is_sequence(first) and producer.is_sequence([atom])
                    if producer.field_of(atom) not in used and not both_sequences:
                        pool.add(tuple(sorted(first + (atom,), key=order.get)))
        return sorted(pool - {tuple(c) for c in selected}, key=lambda c: [order[a] for a in c])

    def _step(self, state, recorder):
        start = time.monotonic()
        candidates = self.candidates(state["crosses"])
        if not candidates:
            return {**state, "done": True}
        self.generator.manual_seed(self.config["seed"] * 1000 + len(recorder.finished))
        winner, score, weights, vocabulary, rounds = self.successive_halving(candidates)
        cross, gain = list(candidates[winner]), score - state["auc"]
        accepted = gain >= self.config["autocross_min_gain"]
        if accepted:
            state = {
                **state, "crosses": state["crosses"] + [cross],
                "vocabularies": state["vocabularies"] + [vocabulary],
                "weights": state["weights"] + [weights], "auc": score,
            }  # fmt: skip
            self._freeze([cross], [vocabulary], [weights])
        else:
            state = {**state, "done": True}
        point = {"cross": cross_name(cross), "accepted": accepted}
        result = {"auc": score, "gain": gain, "candidates": len(candidates), "rounds": rounds}
        self._record(recorder, state, point, score, result, start)
        return state

    def successive_halving(self, candidates):
        """Successive mini-batch gradient descent over ``candidates``; returns the index of
        the last one standing, its validation AUC, weights and vocabulary, and the rounds."""
        vocabularies = self._encode(candidates)
        rounds = max(1, math.ceil(math.log2(len(candidates))))
        rows = torch.randperm(len(self.train.labels), generator=self.generator)
        blocks = rows.tensor_split(2**rounds - 1)
        weights = torch.zeros(len(candidates), self._width(), requires_grad=True)
        optimizer = torch.optim.Adagrad([weights], lr=self.config["autocross_learning_rate"])
        alive, used = torch.arange(len(candidates)), 0
        for r in range(rounds):
            block = torch.cat(blocks[used : used + 2**r])
            used += 2**r
            descend(weights, optimizer, self.train, block, self.config["autocross_batch_size"],
                    fields=alive)  # fmt: skip
            with torch.no_grad():
                scores = auc(logits_of(weights[alive], self.valid.ids[alive], self.valid.offset),
                             self.valid.labels)  # fmt: skip
            order = torch.argsort(-scores, stable=True)
            best = float(scores[order[0]])
            alive = alive[order[: math.ceil(len(alive) / 2)]]
        winner = int(alive[0])
        return winner, best, weights[winner].detach().clone(), vocabularies[winner], rounds


def every_pair(config, train_dataset, valid_dataset):
    """The brute-force baseline: a producer with every second-order cross the search would
    start from, with the search's vocabularies; nothing is searched."""
    search = CrossSearch.on(config, train_dataset, valid_dataset, None, None)
    crosses = search.candidates([])
    producer = search.producer
    for cross, vocabulary in zip(crosses, search.vocabularies(crosses)):
        producer = producer.with_cross(cross, vocabulary)
    return producer
