"""AutoCross's feature producer: the atoms of a dataset and their crosses, hashed to a
bounded vocabulary (Luo et al., KDD 2019).

A :class:`FeatureProducer` is plain data (saved as JSON), fitted on the training split and
applied the same way to any data of the same schema: to RecBole interactions inside a model
(:class:`FeatureCrosser`) or to a pandas DataFrame of raw values (:meth:`~FeatureProducer.
transform`). Both hash raw tokens, not RecBole's remapped ids, so they agree with each other
and with any later dataset of the same schema.

Atoms, the features that crosses combine:

- a token field, as it is;
- a token_seq field (an item's genres) by element: a cross with it is a token sequence, one
  token per element (user 7 x Action, user 7 x Comedy), which is how RecBole's models read
  token sequences (an LR sums their weights). We chose this over crossing the set as one
  value ("Action Comedy" as a whole) because it shares statistics between the sets that
  have an element in common: on ml-100k, an L2-tuned logistic regression gains +0.007 valid
  AUC from user x genre by element, +0.003 from user x genre set, whose values are rarer
  (benchmarks/results/ml-100k-autocross-token-seq.md). A cross has at most one token_seq
  atom, so its length is that field's, not a product.
- a float field, discretized at several granularities (multi-granularity discretization):
  one atom per bin count of ``bins`` (``timestamp@5``, ``timestamp@10``, ...), with bins at
  the quantiles of the training split. float_seq fields are left out.

A cross is a tuple of atoms of different fields (``age*class``); its value for a row (for
each element, with a token_seq atom) is a hash of its atoms' values in ``1..buckets``. Hashed
values seen fewer than ``min_count`` times in the training split share one id, 0, with values
never seen there (in a token sequence, 0 is padding: such elements are dropped); the others
are the cross's vocabulary, ids ``1..len(vocabulary)``. So a rare combination does not get a
weight of its own to overfit, and a model's tables are as large as the vocabulary, not as
the hash space.
"""

import dataclasses
import hashlib
import json
import os

import numpy as np
import pandas as pd
import torch
import torch.nn as nn
from recbole.data.interaction import Interaction
from recbole.utils import FeatureSource, FeatureType

# Codes stay below this prime, so ``code * MULTIPLIER`` never overflows int64.
MODULUS = 2**31 - 1
MULTIPLIER = 1_000_003
ATOM_TYPES = {FeatureType.TOKEN: "token", FeatureType.TOKEN_SEQ: "token_seq",
              FeatureType.FLOAT: "float"}  # fmt: skip
FEATURE_SOURCES = [FeatureSource.INTERACTION, FeatureSource.USER, FeatureSource.USER_ID,
                   FeatureSource.ITEM, FeatureSource.ITEM_ID]  # fmt: skip


def token_code(token):
    """A stable code of a raw token (the same in every process and on every machine)."""
    digest = hashlib.blake2b(str(token).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") % MODULUS


def joined(dataset):
    """Every interaction of ``dataset`` with its user and item features."""
    return dataset.join(Interaction(dict(dataset.inter_feat.interaction)))


def vocabulary_ids(hashed, vocabulary):
    """Positions (from 1) of ``hashed`` values in a sorted ``vocabulary``, 0 if absent."""
    vocabulary = torch.as_tensor(vocabulary, dtype=hashed.dtype, device=hashed.device)
    if len(vocabulary) == 0:
        return torch.zeros_like(hashed)
    position = torch.searchsorted(vocabulary, hashed).clamp(max=len(vocabulary) - 1)
    return torch.where(vocabulary[position] == hashed, position + 1, 0)


def frequent(hashed, min_count):
    """The sorted hashed values that occur at least ``min_count`` times (0, padding, never)."""
    values, counts = torch.unique(hashed, return_counts=True)
    return values[(counts >= min_count) & (values > 0)]


def cross_name(cross):
    return "*".join(cross)


@dataclasses.dataclass
class FeatureProducer:
    """The atoms of a dataset, the crosses found so far with their vocabularies, and the
    size of the hash space.

    Attributes:
        atoms (dict): atom name -> ``{"field", "type", "boundaries"}`` (boundaries of the
            bins of a float atom, else ``None``), in the order crosses name them.
        crosses (list of list of str): the crosses, each a list of atom names.
        vocabularies (list of list of int): the frequent hashed values of each cross, sorted.
        buckets (int): the size of the hash space.
        separator (str): what separates the tokens of a token_seq field in raw data.
    """

    atoms: dict
    crosses: list
    vocabularies: list
    buckets: int
    separator: str = " "

    @classmethod
    def fit(cls, dataset, bins, buckets, label_field):
        """Atoms of every feature field of ``dataset`` (the training split): token and
        token_seq fields as they are, float fields at each bin count of ``bins``."""
        frame = joined(dataset)
        atoms = {}
        for field in dataset.fields(source=FEATURE_SOURCES):
            kind = ATOM_TYPES.get(dataset.field2type[field])
            if field == label_field or kind is None:
                continue
            if kind != "float":
                atoms[field] = {"field": field, "type": kind, "boundaries": None}
                continue
            values = frame[field].double().numpy()
            for count in bins:
                quantiles = np.quantile(values, np.linspace(0, 1, count + 1)[1:-1])
                boundaries = np.unique(quantiles).tolist()
                atoms[f"{field}@{count}"] = {"field": field, "type": kind, "boundaries": boundaries}
        return cls(atoms, [], [], buckets, dataset.config["seq_separator"])

    def with_cross(self, cross, vocabulary):
        return dataclasses.replace(
            self,
            crosses=self.crosses + [list(cross)],
            vocabularies=self.vocabularies + [[int(v) for v in vocabulary]],
        )

    @property
    def cross_names(self):
        return [cross_name(cross) for cross in self.crosses]

    def field_of(self, atom):
        return self.atoms[atom]["field"]

    def is_sequence(self, atoms):
        """Whether a cross of ``atoms`` is a token sequence (has a token_seq atom)."""
        return any(self.atoms[atom]["type"] == "token_seq" for atom in atoms)

    def atom_codes(self, values):
        """Codes of every atom from ``values``: field -> codes of each row's token (rows,) or
        tokens (rows, length; 0 for padding), or floats."""
        codes = {}
        for atom, spec in self.atoms.items():
            value = values[spec["field"]]
            if spec["type"] == "float":
                boundaries = torch.tensor(spec["boundaries"], dtype=value.dtype)
                value = torch.bucketize(value, boundaries.to(value.device))
            codes[atom] = value.long()
        return codes

    def hashed(self, codes, cross):
        """Hashed values (1..buckets) of ``cross`` from its atoms' codes: (rows,), or
        (rows, length) with 0 at the padding of a token sequence."""
        parts = [codes[atom] for atom in cross]
        sequence = next((p for p in parts if p.dim() == 2), None)
        hashed = torch.zeros((), dtype=torch.long, device=parts[0].device)
        for part in parts:
            part = part.unsqueeze(1) if sequence is not None and part.dim() == 1 else part
            hashed = (hashed * MULTIPLIER + part + 1) % MODULUS
        hashed = hashed % self.buckets + 1
        return hashed if sequence is None else hashed.masked_fill(sequence == 0, 0)

    def ids(self, codes, i):
        """Token ids of the ``i``-th cross: positions in its vocabulary from 1, else 0."""
        return vocabulary_ids(self.hashed(codes, self.crosses[i]), self.vocabularies[i])

    def transform(self, frame):
        """The crosses of a DataFrame of raw values (token fields as tokens, token_seq fields
        as ``separator``-joined strings, float fields as numbers), one column each: token ids,
        or lists of them (a token sequence, padding dropped)."""
        values = {}
        for spec in self.atoms.values():
            field, kind = spec["field"], spec["type"]
            if field in values:
                continue
            column = frame[field]
            if kind == "float":  # float32 first, as RecBole stores them
                values[field] = torch.as_tensor(column.to_numpy(np.float32).astype(np.float64))
                continue
            codes, uniques = pd.factorize(column.astype(str))
            if kind == "token":
                unique_codes = np.array([token_code(u) for u in uniques], dtype=np.int64)
            else:
                elements = [[token_code(t) for t in u.split(self.separator) if t] for u in uniques]
                unique_codes = np.zeros(
                    (len(uniques), max(map(len, elements), default=1)), np.int64
                )
                for row, element_codes in zip(unique_codes, elements):
                    row[: len(element_codes)] = element_codes
            values[field] = torch.as_tensor(unique_codes[codes])
        codes = self.atom_codes(values)
        columns = {}
        for i, name in enumerate(self.cross_names):
            ids = self.ids(codes, i).numpy()
            columns[name] = [[t for t in row if t] for row in ids] if ids.ndim == 2 else ids
        return pd.DataFrame(columns, index=frame.index)

    def save(self, path):
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        partial = path + ".partial"
        with open(partial, "w") as f:
            json.dump(dataclasses.asdict(self), f)
        os.replace(partial, path)

    @classmethod
    def load(cls, path):
        with open(path) as f:
            return cls(**json.load(f))


class FeatureCrosser(nn.Module):
    """A producer applied to RecBole interactions of ``dataset``'s schema.

    Each token-like field of an atom gets a table from RecBole's remapped ids to the codes
    of their raw tokens (padding: 0); the tables are rebuilt from the dataset, not saved.
    The vocabularies are buffers too, so they follow the model to its device.
    """

    def __init__(self, producer, dataset):
        super().__init__()
        self.producer = producer
        self.fields = {}
        for spec in producer.atoms.values():
            field = spec["field"]
            self.fields[field] = spec["type"]
            if spec["type"] != "float":
                tokens = dataset.field2id_token[field]
                table = torch.tensor([0] + [token_code(t) for t in tokens[1:]])
                self.register_buffer(f"codes_{field}", table, persistent=False)
        for i, vocabulary in enumerate(producer.vocabularies):
            vocabulary = torch.tensor(vocabulary, dtype=torch.long)
            self.register_buffer(f"vocabulary_{i}", vocabulary, persistent=False)

    def values(self, interaction):
        """field -> codes of each row's token(s), or floats."""
        values = {}
        for field, kind in self.fields.items():
            value = interaction[field]
            is_float = kind == "float"
            values[field] = value.double() if is_float else getattr(self, f"codes_{field}")[value]
        return values

    def atom_codes(self, interaction):
        return self.producer.atom_codes(self.values(interaction))

    def forward(self, interaction):
        """cross name -> token ids of each row of ``interaction``."""
        codes, producer = self.atom_codes(interaction), self.producer
        return {
            name: vocabulary_ids(producer.hashed(codes, cross), getattr(self, f"vocabulary_{i}"))
            for i, (name, cross) in enumerate(zip(producer.cross_names, producer.crosses))
        }
