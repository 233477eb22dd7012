"""RecBole's ``Config``, taught about the plugin's models and made strict about input."""

import os

import recbole
import torch
import yaml
from recbole.config import Config as RecBoleConfig
from recbole.utils import InputType

from recbole_automl.checks import PROPERTIES_DIR, check_key, load_checks
from recbole_automl.lookup import get_model
from recbole_automl.model.abstract_recommender import PAIRWISE_LOSSES, POINTWISE_LOSSES
from recbole_automl.spaces import candidate_models
from recbole_automl.utils import ConfigError

RECBOLE_PROPERTIES_DIR = os.path.join(
    os.path.dirname(os.path.abspath(recbole.__file__)), "properties"
)


# Strings that mean ~ (no value) on the command line, where YAML's ~ cannot be written.
NONE_WORDS = ("~", "None", "null")  # not "none": search_scheduler: none is a value


def _type_name(value):
    return type(value).__name__


def _check_type(key, value, default):
    """Raise ``ConfigError`` if ``value`` cannot stand where RecBole's default ``default`` does.

    Only scalar defaults are checked (bool, int, float): RecBole accepts several
    shapes for its list, dict and string keys (``topk: 10`` or ``[10]``).
    """
    if value is None or default is None:
        return
    if isinstance(default, bool):
        ok, expected = isinstance(value, bool), "a bool (True/False)"
    elif isinstance(default, int):
        ok, expected = isinstance(value, int) and not isinstance(value, bool), "an int"
    elif isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        expected = "a number"
    else:
        return
    if not ok:
        raise ConfigError(
            f"Config key '{key}' expects {expected}, got {value!r} ({_type_name(value)})."
        )


class Config(RecBoleConfig):
    """RecBole's ``Config`` that also knows the plugin's models.

    On top of RecBole it

    * finds plugin model classes by name (``get_model`` searches the plugin first),
    * loads the plugin's ``properties/overall.yaml`` (keys for every model) and
      ``properties/model/<Model>.yaml`` for plugin models,
    * rejects a value whose type does not match the key's default, naming the key, and
      one that breaks its rule in ``properties/**/*.checks.yaml`` (:func:`load_checks`),
    * checks that the dataset's atomic files exist before RecBole tries to
      download anything, and
    * puts the model on the CPU when ``use_gpu`` is False (RecBole 1.2.1 only
      looks at ``gpu_id``).

    Args:
        read_cmd_line (bool): read ``--key=value`` from ``sys.argv`` as RecBole does;
            False for configs built inside a search (a worker's argv is not the user's).

    Example:
        >>> config = Config(model="BPR", dataset="ml-100k", config_dict={"epochs": 1})
    """

    def __init__(
        self, model=None, dataset=None, config_file_list=None, config_dict=None, read_cmd_line=True
    ):
        self.read_cmd_line = read_cmd_line
        super().__init__(model, dataset, config_file_list, config_dict)

    def _load_cmd_line(self):
        if not self.read_cmd_line:
            return {}
        values = super()._load_cmd_line()
        return {k: None if v in NONE_WORDS else v for k, v in values.items()}

    def _load_config_files(self, file_list):
        for path in file_list or []:
            if not os.path.isfile(path):
                raise ConfigError(
                    f"Config file '{path}' (config_files) does not exist; pass paths of "
                    "YAML files, separated by spaces."
                )
        try:
            return super()._load_config_files(file_list)
        except yaml.YAMLError as error:
            raise ConfigError(f"Config files {file_list}: not valid YAML ({error}).") from None

    def __setstate__(self, state):
        # RecBole code relies on numpy aliases (np.float, ...) that only Config's
        # constructor defines; a config unpickled in a worker process defines them too.
        self.__dict__.update(state)
        self.compatibility_settings()

    def _get_model_and_dataset(self, model, dataset):
        if self.external_config_dict.get("search") == "models":
            model = self._model_search_base(model)
        for name, given in (("model", model), ("dataset", dataset)):
            if given is None and name not in self.external_config_dict:
                raise ConfigError(
                    f"No {name} given: pass --{name}=NAME or set '{name}:' in a config file."
                )
        model = model if model is not None else self.external_config_dict["model"]
        dataset = dataset if dataset is not None else self.external_config_dict["dataset"]
        if isinstance(model, str):
            return model, get_model(model), dataset
        return model.__name__, model, dataset

    def _model_search_base(self, model):
        """``search: models`` chooses the model: the config is its first candidate's."""
        if model is not None or "model" in self.external_config_dict:
            raise ConfigError(
                "Config key 'model': search: models chooses the model; leave model out "
                "and list the candidates in search_models."
            )
        external = self.external_config_dict
        task = external.get("search_task", "general")
        return candidate_models(external.get("search_models"), task)[0]

    def _load_internal_config_dict(self, model, model_class, dataset):
        super()._load_internal_config_dict(model, model_class, dataset)
        self._update_internal_config_dict(os.path.join(PROPERTIES_DIR, "overall.yaml"))
        model_file = os.path.join(PROPERTIES_DIR, "model", model + ".yaml")
        if os.path.isfile(model_file):
            self._update_internal_config_dict(model_file)
            # A wrapper of a RecBole model (PEP's base_model) gets that model's defaults
            # too; the wrapper's own keys win.
            base = self.external_config_dict.get(
                "base_model", self.internal_config_dict.get("base_model")
            )
            if base is not None:
                try:
                    get_model(base)
                except ConfigError as error:
                    raise ConfigError(f"Config key 'base_model': {error}") from None
            base_file = os.path.join(RECBOLE_PROPERTIES_DIR, "model", f"{base}.yaml")
            if base is not None and os.path.isfile(base_file):
                self._update_internal_config_dict(base_file)
                self._update_internal_config_dict(model_file)
        if self.external_config_dict.get("search") == "models":
            # The search's own keys are a model search's, not its first candidate's (AutoCF's
            # search_strategy arsp is not one of a model search's).
            self._update_internal_config_dict(os.path.join(PROPERTIES_DIR, "overall.yaml"))
            self._update_internal_config_dict(os.path.join(PROPERTIES_DIR, "models.yaml"))

    def _get_final_config_dict(self):
        for key, value in self.external_config_dict.items():
            _check_type(key, value, self.internal_config_dict.get(key))
        final = super()._get_final_config_dict()
        for key, rule in load_checks(self.model, final.get("search")).items():
            if key in final:
                check_key(key, final[key], rule, final)
        return final

    def _set_default_parameters(self):
        super()._set_default_parameters()
        # RecBole derives the input type from loss_type only for CE and BPR.
        config = self.final_config_dict
        if config.get("loss_type") in POINTWISE_LOSSES:
            config.setdefault("MODEL_INPUT_TYPE", InputType.POINTWISE)
        if config.get("loss_type") in PAIRWISE_LOSSES:
            config.setdefault("MODEL_INPUT_TYPE", InputType.PAIRWISE)
        if "MODEL_INPUT_TYPE" not in config:
            raise ConfigError(
                f"Config key 'loss_type' of {self.model} must be one of "
                f"{['BPR', 'CE', *PAIRWISE_LOSSES, *POINTWISE_LOSSES]}, "
                f"got {config.get('loss_type')!r}."
            )
        self._check_dataset_files()

    def _check_dataset_files(self):
        config = self.final_config_dict
        folder, name = config["data_path"], self.dataset
        benchmark = config.get("benchmark_filename")
        parts = [f"{part}." for part in benchmark] if benchmark else [""]
        expected = [f"{name}.{part}inter" for part in parts]
        missing = [f for f in expected if not os.path.isfile(os.path.join(folder, f))]
        if missing:
            raise ConfigError(
                f"Dataset '{name}': no atomic file {', '.join(missing)} in '{folder}'. "
                f"Set data_path to the folder that holds '{name}/' with RecBole atomic "
                f"files (.inter, optional .user/.item); 'ml-100k' ships with RecBole."
            )

    def _init_device(self):
        super()._init_device()
        if not self.final_config_dict["use_gpu"] and self.final_config_dict["single_spec"]:
            self.final_config_dict["device"] = torch.device("cpu")
