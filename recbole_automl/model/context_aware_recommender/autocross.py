r"""AutoCross: a RecBole context-aware model on its data plus searched feature crosses.

Reference:
    Yuanfei Luo, Mengshuo Wang, Hao Zhou, Quanming Yao, Wei-Wei Tu, Yuqiang Chen, Wenyuan
    Dai, Qiang Yang. "AutoCross: Automatic Feature Crossing for Tabular Data in Real-World
    Applications." KDD 2019. (The IJCAI-21 tutorial "Automated Recommender System", Yao, Li,
    Gao, Zhao, Zhang.)

``base_model`` (LR by default; FM, DeepFM, ... any RecBole model built on
``ContextRecommender``) is built as RecBole builds it, on the dataset's fields plus one token
field per cross of the feature producer (:mod:`recbole_automl.model.feature_cross`); each
batch gets its crosses computed from its own fields before the base model sees it, so
validation, test and new data of the same schema are crossed the same way.
:class:`~recbole_automl.trainer.autocross_trainer.AutoCrossTrainer` searches the crosses.
"""

import copy
import inspect
import os

from recbole.model.abstract_recommender import ContextRecommender
from recbole.model.layers import FMFirstOrderLinear
from recbole.utils import FeatureSource, FeatureType

from recbole_automl.model.abstract_recommender import ContextWrapper, base_model_class
from recbole_automl.model.feature_cross import FeatureCrosser, FeatureProducer
from recbole_automl.utils import ConfigError

# Where the crosses go: only the base model's first-order (linear) part, as Wide & Deep
# crosses features for its wide part only, or every part (its embeddings too).
PLACEMENTS = ("linear", "all")


def with_token_fields(dataset, fields):
    """A shallow copy of ``dataset`` that also declares ``fields`` (name -> (token type,
    number of ids, length)): what a RecBole model reads of a dataset to build its tables."""
    view = copy.copy(dataset)
    view.field2type = {**dataset.field2type, **{n: f[0] for n, f in fields.items()}}
    view.field2source = {**dataset.field2source, **{n: FeatureSource.INTERACTION for n in fields}}
    view.field2id_token = {**dataset.field2id_token, **{n: range(f[1]) for n, f in fields.items()}}
    view.field2seqlen = {**dataset.field2seqlen, **{n: f[2] for n, f in fields.items()}}
    return view


class AutoCross(ContextWrapper):
    """``base_model`` on the dataset's fields and the crosses of ``producer``.

    Args:
        producer (FeatureProducer, optional): the crosses; default: the file named by
            ``autocross_producer``, else none (the base model alone, before a search).
    """

    def __init__(self, config, dataset, producer=None):
        path = config["autocross_producer"]
        if producer is None and path:
            if not os.path.isfile(path):
                raise ConfigError(
                    f"Config key 'autocross_producer' must name a producer.json saved by an "
                    f"AutoCross search, or be ~ to search; no file at {path!r}."
                )
            producer = FeatureProducer.load(path)
        if producer is None:
            producer = FeatureProducer({}, [], [], config["autocross_buckets"])
        fields = {}
        for cross, name, vocabulary in zip(producer.crosses, producer.cross_names,
                                           producer.vocabularies):  # fmt: skip
            sequence = [producer.field_of(a) for a in cross if producer.is_sequence([a])]
            kind = FeatureType.TOKEN_SEQ if sequence else FeatureType.TOKEN
            length = dataset.field2seqlen[sequence[0]] if sequence else 1
            fields[name] = (kind, len(vocabulary) + 1, length)
        crossed = with_token_fields(dataset, fields)
        placement = config["autocross_placement"]
        if placement == "all":
            super().__init__(config, dataset, crossed)
        else:  # the crosses in the first-order part only, Wide & Deep's placement
            base_class = base_model_class(config["base_model"])
            linear = "self.first_order_linear(" in inspect.getsource(base_class)
            if issubclass(base_class, ContextRecommender) and not linear:
                raise ConfigError(
                    f"Config key 'autocross_placement' is 'linear', but base_model "
                    f"{config['base_model']!r} has no first-order part; use 'all'."
                )
            super().__init__(config, dataset)
            self.base.first_order_linear = FMFirstOrderLinear(config, crossed)
            if hasattr(self.base, "_init_weights"):
                self.base.first_order_linear.apply(self.base._init_weights)
        self.crosser = FeatureCrosser(producer, dataset)

    @property
    def producer(self):
        return self.crosser.producer

    def inputs(self, interaction):
        for name, ids in self.crosser(interaction).items():
            interaction[name] = ids
        return interaction
