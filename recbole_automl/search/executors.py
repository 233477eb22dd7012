"""Executors run the trials of a search: one after another, in forked processes, or on a
Ray cluster (:mod:`recbole_automl.search.ray_executor`). Every executor serves the same
loop (:func:`~recbole_automl.search.run_search`): it pulls jobs when a worker is free and
hands the results back in job order, so the loop records, tells and resumes the same way
whatever runs the trials."""

import multiprocessing
import os
import socket
from abc import ABC, abstractmethod

import torch

_WORKER_FN = None  # the function forked workers call; set just before the pool forks


def worker_name():
    """Where this process runs: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


class Executor(ABC):
    """Base class: runs ``fn(*job)`` for jobs pulled from an iterable.

    Attributes:
        workers (int): jobs running at once.
    """

    workers = 1

    @abstractmethod
    def map(self, fn, jobs):
        """Yield ``fn(*job)`` for each job of ``jobs``, in the order of the jobs.

        A job is pulled from ``jobs`` only when a worker is free for it, so a generator of
        jobs can stop (a spent budget) between two jobs.
        """


class SerialExecutor(Executor):
    """Runs one trial at a time in this process, pulling the next job only when asked."""

    def map(self, fn, jobs):
        for job in jobs:
            yield fn(*job)


def _init_worker(threads):
    torch.set_num_threads(threads)


def _run_job(job):
    return _WORKER_FN(*job)


class ForkExecutor(Executor):
    """Runs up to ``workers`` trials at once in forked processes, CPU only.

    Forked workers inherit the parent's dataset and dataloaders, so nothing is rebuilt or
    pickled but the jobs and their results; each worker gets ``cores // workers`` torch
    threads. CUDA cannot be used after a fork, so GPU searches run serially
    (:func:`local_executor`).
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


def local_executor(workers, device):
    """:class:`ForkExecutor` for ``workers > 1`` on the CPU, else :class:`SerialExecutor`."""
    if workers > 1 and torch.device(device).type == "cpu" and os.name == "posix":
        return ForkExecutor(workers)
    return SerialExecutor()
