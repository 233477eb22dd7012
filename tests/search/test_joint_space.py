"""The joint space (an architecture and hyper-parameters in one point) and the encoding of
a hyper-parameter space that lets ARSP's predictor learn on it."""

import numpy as np

from recbole_automl.search import BranchSpace, CategoricalSpace, HyperSpace, JointSpace

HYPER = {
    "embedding_size": {"choice": [16, 64]},
    "learning_rate": {"loguniform": [1.0e-4, 1.0e-2]},
    "learner": {"choice": {"adam": None, "sgd": {"momentum": {"uniform": [0.0, 0.5]}}}},
}


def test_a_hyper_space_encodes_numbers_in_bounds_and_inactive_keys_as_zeros():
    space = HyperSpace.from_dict(HYPER)
    adam = space.encode({"embedding_size": 64, "learning_rate": 1e-3, "learner": "adam"})
    sgd = space.encode(
        {"embedding_size": 16, "learning_rate": 1e-4, "learner": "sgd", "momentum": 0.25}
    )
    # embedding one-hot (2), log-scaled rate (1), learner one-hot (2), momentum (1).
    np.testing.assert_allclose(adam, [0, 1, 0.5, 1, 0, 0], atol=1e-6)
    np.testing.assert_allclose(sgd, [1, 0, 0, 0, 1, 0.5], atol=1e-6)
    rng = np.random.default_rng(0)
    for _ in range(20):
        vector = space.encode(space.sample(rng))
        assert vector.shape == (6,) and ((0 <= vector) & (vector <= 1)).all()


def test_a_joint_point_is_a_flat_dict_of_config_keys():
    branches = BranchSpace(CategoricalSpace({"op": ["plus", "max"], "head": ["SUM", "VEC"]}))
    hyper = HyperSpace.from_dict({"embedding_size": {"choice": [16, 64]}})
    space = JointSpace({"architecture": branches}, hyper)
    point = space.sample(np.random.default_rng(1))
    assert set(point) == {"architecture", "embedding_size"} == set(space.keys())
    assert space.encode(point).shape == (4 + 2,)
    grid = list(space.grid())
    assert len(grid) == 4 * 2 and len({space.key(p) for p in grid}) == 8
    assert all(set(p) == {"architecture", "embedding_size"} for p in grid)


def test_the_point_of_a_runs_own_settings_and_its_encoding_outside_the_options():
    space = HyperSpace.from_dict(HYPER)
    settings = {"embedding_size": 32, "learning_rate": 1e-3, "learner": "sgd", "momentum": 0.5}
    point = space.point(settings.get)
    assert point == settings  # the conditional key of the option the settings choose
    assert set(space.point({**settings, "learner": "adam"}.get)) == set(HYPER)
    # 32 is not an option: its one-hot is all zeros; the rest encodes as usual.
    np.testing.assert_allclose(space.encode(point), [0, 0, 0.5, 0, 1, 1], atol=1e-6)
