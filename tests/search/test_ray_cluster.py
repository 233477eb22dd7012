"""The several-machines path for real: a two-node Ray cluster on 127.0.0.1 (a head and a
worker node, one CPU each) runs a search whose trials land on both nodes; the driver is
killed halfway and rerun, and no finished trial is trained again."""

import os
import signal
import subprocess
import sys
import time

import pytest

from recbole_automl.search import Journal

ray = pytest.importorskip("ray", reason="Ray is an optional install: pip install -e .[ray]")
from ray.cluster_utils import Cluster  # noqa: E402

DRIVER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ray_driver.py")
TRIALS = 10


@pytest.fixture(scope="module")
def cluster():
    if ray.is_initialized():
        ray.shutdown()
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    yield cluster
    cluster.shutdown()


def _driver(cluster, folder):
    return subprocess.Popen(
        [sys.executable, DRIVER, cluster.address, str(folder), str(TRIALS)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def test_a_search_spreads_over_two_nodes_and_a_killed_driver_reruns_nothing(cluster, tmp_path):
    journal = Journal(tmp_path / "journal.jsonl")
    first = _driver(cluster, tmp_path)
    deadline = time.monotonic() + 240
    while len(journal.load()) < 4 and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    first.send_signal(signal.SIGKILL)
    first.wait()
    before = journal.load()
    assert 4 <= len(before) < TRIALS, first.stdout.read()

    second = _driver(cluster, tmp_path)
    output, _ = second.communicate(timeout=240)
    assert second.returncode == 0, output
    trials = journal.load()
    assert len(trials) == TRIALS and trials[: len(before)] == before
    assert len({(t.point["a"], t.point["b"]) for t in trials}) == TRIALS
    # Both nodes trained trials: their worker names carry the Ray node id.
    nodes = {t.worker.split(":")[0] for t in trials}
    assert len(nodes) == 2, nodes
    # No trial finished before the kill was evaluated again; only those running at the
    # kill (at most one per worker) were started twice.
    evaluations = (tmp_path / "evaluations").read_text().split()
    finished = {f"{t.point['a']}-{t.point['b']}" for t in before}
    assert all(evaluations.count(key) == 1 for key in finished)
    assert len(evaluations) - TRIALS <= 2

    # A third run finds the search done: it evaluates nothing.
    third = _driver(cluster, tmp_path)
    output, _ = third.communicate(timeout=240)
    assert third.returncode == 0 and len((tmp_path / "evaluations").read_text().split()) == len(
        evaluations
    ), output
