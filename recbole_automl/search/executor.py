"""Executors run trials: one after another, or several at once in worker processes."""

import multiprocessing
import os

import torch

_WORKER_FN = None  # the function forked workers call; set just before the pool forks


class SerialExecutor:
    """Runs one trial at a time in this process, pulling the next job only when asked."""

    workers = 1

    def map(self, fn, jobs):
        for job in jobs:
            yield fn(*job)


def _init_worker(threads):
    torch.set_num_threads(threads)


def _run_job(job):
    return _WORKER_FN(*job)


class ForkExecutor:
    """Runs up to ``workers`` trials at once in forked processes, CPU only.

    Forked workers inherit the parent's dataset and dataloaders, so nothing is rebuilt or
    pickled but the jobs and their results; each worker gets ``cores // workers`` torch
    threads. CUDA cannot be used after a fork, so GPU searches use :class:`SerialExecutor`
    (see :func:`make_executor`).
    """

    def __init__(self, workers):
        self.workers = workers

    def map(self, fn, jobs):
        global _WORKER_FN
        _WORKER_FN = fn
        threads = max(1, (os.cpu_count() or 1) // self.workers)
        context = multiprocessing.get_context("fork")
        with context.Pool(self.workers, _init_worker, (threads,), maxtasksperchild=1) as pool:
            yield from pool.imap(_run_job, jobs)


def make_executor(workers, device):
    """:class:`ForkExecutor` for ``workers > 1`` on the CPU, else :class:`SerialExecutor`."""
    if workers > 1 and torch.device(device).type == "cpu" and os.name == "posix":
        return ForkExecutor(workers)
    return SerialExecutor()
