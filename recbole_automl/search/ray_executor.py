"""Ray as an executor of the search loop: the same trials on the workers of one machine or
of a cluster.

Ray is an optional install (``pip install recbole-automl[ray]``); this module is imported
only when ``search_executor: ray`` asks for it. Ray places each trial on a free worker of
the cluster (a CPU share, or a GPU share); the driver's loop does everything else as for
any executor: proposals, the journal (so a rerun after killing the driver replays the
finished trials and trains none again), the scheduler, the progress bar.
"""

import os
from collections import deque

import torch

from recbole_automl.search.executors import Executor


def _call(fn, job, threads):
    """One job on a Ray worker; its trial names the Ray node and process it ran on."""
    import ray

    torch.set_num_threads(threads)
    result = fn(*job)
    if hasattr(result, "worker"):
        result.worker = f"{ray.get_runtime_context().get_node_id()[:12]}:{os.getpid()}"
    return result


class RayExecutor(Executor):
    """Runs a search's trials as Ray tasks, ``workers`` at a time.

    Args:
        workers (int): trials running at once.
        address (str, optional): an existing Ray cluster (``"auto"``, ``"10.0.0.1:6379"`` or
            ``"ray://host:10001"``); ``None`` starts a Ray on this machine.
        device (torch.device): where trials train; on a GPU each trial asks Ray for
            ``1 / workers`` of a GPU.
        cpus_per_trial (int, optional): CPUs Ray reserves for each trial (torch threads);
            by default this machine's cores divided by ``workers``.
    """

    def __init__(self, workers, address=None, device="cpu", cpus_per_trial=None):
        try:
            import ray  # noqa: F401
        except ImportError as error:
            raise ImportError(
                "search_executor: ray needs Ray: pip install 'recbole-automl[ray]' "
                "(or pip install 'ray>=2.40')."
            ) from error
        self.workers = workers
        self.address = address
        self.gpu = torch.device(device).type == "cuda"
        self.cpus_per_trial = cpus_per_trial or max(1, (os.cpu_count() or 1) // workers)

    def _start_ray(self):
        import ray

        if ray.is_initialized():
            return ray
        # Workers import the plugin from where this process did, installed or not.
        source = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        path = os.pathsep.join(filter(None, [source, os.environ.get("PYTHONPATH")]))
        runtime_env = {"env_vars": {"PYTHONPATH": path}}
        if self.address:
            ray.init(address=self.address, runtime_env=runtime_env, log_to_driver=False)
        else:
            ray.init(
                runtime_env=runtime_env,
                num_cpus=self.cpus_per_trial * self.workers,
                num_gpus=torch.cuda.device_count() if self.gpu else 0,
                include_dashboard=False,
                log_to_driver=False,
            )
        return ray

    def map(self, fn, jobs):
        ray = self._start_ray()
        task = ray.remote(_call).options(
            num_cpus=self.cpus_per_trial,
            num_gpus=1 / self.workers if self.gpu else 0,
            max_retries=0,
        )
        fn_ref = ray.put(fn)  # once per call, not once per trial
        jobs = iter(jobs)
        running, order, done = set(), deque(), {}

        def submit():
            job = next(jobs, None)
            if job is not None:
                ref = task.remote(fn_ref, job, self.cpus_per_trial)
                running.add(ref)
                order.append(ref)

        for _ in range(self.workers):
            submit()
        while order:
            (ref,), _ = ray.wait(list(running), num_returns=1)
            running.remove(ref)
            done[ref] = ray.get(ref)
            submit()
            while order and order[0] in done:
                yield done.pop(order.popleft())
