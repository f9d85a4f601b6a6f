"""DataLoader: batches of a dataset, in the order of a sampler, with torch.utils.data's
arguments, checks and results.

num_workers > 0 runs that many worker *threads* (not processes): each fetches and
collates whole batches, `prefetch_factor` batches ahead per worker, and the batches come
out in the sampler's order, so the results equal those of num_workers=0. An
IterableDataset is iterated once per worker, as in PyTorch (each worker sees the whole
stream unless the dataset splits it using get_worker_info()). Threads share the GIL, so
they speed up loading that waits (files, numpy calls that release the GIL), not
pure-Python work; random draws made inside a dataset from worker threads share tracer's
global generator in an order that depends on thread timing (use num_workers=0 for
reproducible random augmentation). Each pass draws a base seed from the loader's generator
(or the global one), whatever num_workers, as PyTorch does; WorkerInfo.seed is base seed +
worker id. A RandomSampler without a generator seeds a fresh one from the global stream at
each pass, as PyTorch's does, so seeded scripts shuffle as under PyTorch.
pin_memory is accepted and ignored (there is no GPU).
"""

from __future__ import annotations

import itertools
import math
import queue
import threading
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from tracer.utils.data import _random
from tracer.utils.data.collate import default_collate, default_convert
from tracer.utils.data.dataset import Dataset, IterableDataset
from tracer.utils.data.sampler import (
    BatchSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    _InfiniteConstantSampler,
)

__all__ = ["DataLoader", "get_worker_info", "WorkerInfo"]

T_co = TypeVar("T_co", covariant=True)

_worker_local = threading.local()


@dataclass(frozen=True)
class WorkerInfo:
    """What a dataset sees from inside a worker: its id, the number of workers, a seed
    (epoch * num_workers + id: distinct per worker and epoch, reproducible) and the
    dataset."""

    id: int
    num_workers: int
    seed: int
    dataset: Any


def get_worker_info() -> WorkerInfo | None:
    """The WorkerInfo of the calling worker thread; None outside DataLoader workers."""
    return getattr(_worker_local, "info", None)


class DataLoader(Generic[T_co]):
    """Iterate over `dataset` in batches.

    batch_size samples (None: no batching) in the order of `sampler` (default:
    sequential, or a RandomSampler drawing from `generator` when shuffle=True), or the
    index lists of `batch_sampler`; the last short batch is dropped with drop_last.
    `collate_fn` (default: default_collate) makes a batch from a list of samples.
    num_workers > 0 loads in worker threads (see the module docstring). Raises ValueError
    for contradictory options, as PyTorch does.
    """

    __initialized = False

    def __init__(
        self,
        dataset: Dataset[T_co],
        batch_size: int | None = 1,
        shuffle: bool | None = None,
        sampler: Sampler[Any] | Iterable[Any] | None = None,
        batch_sampler: Sampler[list[Any]] | Iterable[list[Any]] | None = None,
        num_workers: int = 0,
        collate_fn: Callable[[list[Any]], Any] | None = None,
        pin_memory: bool = False,
        drop_last: bool = False,
        timeout: float = 0,
        worker_init_fn: Callable[[int], None] | None = None,
        multiprocessing_context: Any = None,
        generator: Any = None,
        *,
        prefetch_factor: int | None = None,
        persistent_workers: bool = False,
        pin_memory_device: str = "",
        in_order: bool = True,
    ) -> None:
        if num_workers < 0:
            raise ValueError(
                "num_workers option should be non-negative; use num_workers=0 to load in the "
                "main thread"
            )
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError(
                "prefetch_factor option could only be specified with num_workers > 0 (worker "
                "threads); leave it None"
            )
        if num_workers > 0 and prefetch_factor is None:
            prefetch_factor = 2
        elif prefetch_factor is not None and prefetch_factor < 0:
            raise ValueError("prefetch_factor option should be non-negative")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")
        if multiprocessing_context is not None and num_workers == 0:
            raise ValueError(
                "multiprocessing_context can only be used with num_workers > 0, but got "
                "num_workers=0"
            )
        self.dataset = dataset
        self.num_workers = num_workers
        self.prefetch_factor = prefetch_factor
        self.pin_memory = pin_memory
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.in_order = in_order

        if isinstance(dataset, IterableDataset):
            self._iterable = True
            if shuffle not in {False, None}:
                raise ValueError(
                    "DataLoader with IterableDataset: expected unspecified shuffle option, but "
                    f"got shuffle={shuffle} (a stream has no indices to shuffle)"
                )
            if sampler is not None:
                raise ValueError(
                    "DataLoader with IterableDataset: expected unspecified sampler option, but "
                    f"got sampler={sampler}"
                )
            if batch_sampler is not None:
                raise ValueError(
                    "DataLoader with IterableDataset: expected unspecified batch_sampler "
                    f"option, but got batch_sampler={batch_sampler}"
                )
        else:
            self._iterable = False
            shuffle = bool(shuffle)
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError(
                    "batch_sampler option is mutually exclusive with batch_size, shuffle, "
                    "sampler, and drop_last"
                )
            batch_size = None
            drop_last = False
        elif batch_size is None and drop_last:
            raise ValueError(
                "batch_size=None option disables auto-batching and is mutually exclusive with "
                "drop_last"
            )
        if sampler is None:
            if self._iterable:
                sampler = _InfiniteConstantSampler()
            elif shuffle:
                sampler = RandomSampler(dataset, generator=generator)  # type: ignore[arg-type]
            else:
                sampler = SequentialSampler(dataset)  # type: ignore[arg-type]
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.generator = generator
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn
        self.persistent_workers = persistent_workers
        self._IterableDataset_len_called: int | None = None
        self.__initialized = True

    def __setattr__(self, name: str, value: Any) -> None:
        frozen = ("batch_size", "batch_sampler", "sampler", "drop_last", "dataset")
        if self.__initialized and name in frozen + ("persistent_workers",):
            raise ValueError(
                f"{name} attribute should not be set after {type(self).__name__} is "
                "initialized; create a new DataLoader"
            )
        super().__setattr__(name, value)

    @property
    def _auto_collation(self) -> bool:
        return self.batch_sampler is not None

    @property
    def _index_sampler(self) -> Any:
        return self.batch_sampler if self._auto_collation else self.sampler

    def __iter__(self) -> _BaseLoaderIter:
        if self.num_workers == 0:
            if self.timeout != 0:  # PyTorch fails here too (an AssertionError)
                raise ValueError(
                    f"DataLoader: timeout={self.timeout} limits the wait for worker threads; "
                    "with num_workers=0 it must be 0"
                )
            return _LoaderIter(self)
        return _ThreadedLoaderIter(self)

    def __len__(self) -> int:
        """Number of batches (for an IterableDataset, from len(dataset) if it has one)."""
        if self._iterable:
            length = self._IterableDataset_len_called = len(self.dataset)  # type: ignore[arg-type]
            if self.batch_size is not None:
                if self.drop_last:
                    return length // self.batch_size
                return math.ceil(length / self.batch_size)
            return length
        return len(self._index_sampler)


class _Fetcher:
    """Turns one entry of the index sampler (an index, a list of indices, or for a stream
    a list of placeholders) into a collated batch; raises StopIteration at a stream's end."""

    def __init__(self, loader: DataLoader[Any]) -> None:
        self.dataset = loader.dataset
        self.iterable = loader._iterable
        self.auto_collation = loader._auto_collation
        self.collate_fn = loader.collate_fn
        self.drop_last = loader.drop_last
        self.stream = iter(self.dataset) if self.iterable else None  # type: ignore[call-overload]
        self.ended = False

    def fetch(self, index: Any) -> Any:
        if self.iterable:
            return self.collate_fn(self._from_stream(index))
        if not self.auto_collation:
            return self.collate_fn(self.dataset[index])
        getitems = getattr(self.dataset, "__getitems__", None)
        data = getitems(index) if getitems else [self.dataset[i] for i in index]
        return self.collate_fn(data)

    def _from_stream(self, index: Any) -> Any:
        if self.ended:
            raise StopIteration
        if not self.auto_collation:
            return next(self.stream)  # type: ignore[call-overload]
        data = []
        for _ in index:
            try:
                data.append(next(self.stream))  # type: ignore[call-overload]
            except StopIteration:
                self.ended = True
                break
        if not data or (self.drop_last and len(data) < len(index)):
            raise StopIteration
        return data


class _BaseLoaderIter:
    """One pass over a DataLoader: subclasses produce the batches in `_next_data`."""

    def __init__(self, loader: DataLoader[Any]) -> None:
        self._dataset = loader.dataset
        self._iterable = loader._iterable
        self._index_sampler = loader._index_sampler
        self._sampler_iter = iter(self._index_sampler)
        # drawn every epoch, as PyTorch draws it (after the sampler's iterator is made,
        # before its first draw), so a seeded script shuffles as under PyTorch
        self._base_seed = _random.draw_seed(loader.generator)
        self._reported_length = loader._IterableDataset_len_called
        self._num_yielded = 0

    def __iter__(self) -> _BaseLoaderIter:
        return self

    def __len__(self) -> int:
        return len(self._index_sampler)

    def _next_data(self) -> Any:
        raise NotImplementedError

    def __next__(self) -> Any:
        data = self._next_data()
        self._num_yielded += 1
        reported = self._reported_length
        if self._iterable and reported is not None and self._num_yielded > reported:
            warnings.warn(
                f"Length of IterableDataset {self._dataset} was reported to be {reported} "
                f"(when accessing len(dataloader)), but {self._num_yielded} samples have been "
                "fetched",
                stacklevel=2,
            )
        return data


class _LoaderIter(_BaseLoaderIter):
    """One pass in the calling thread."""

    def __init__(self, loader: DataLoader[Any]) -> None:
        super().__init__(loader)
        self._fetcher = _Fetcher(loader)

    def _next_data(self) -> Any:
        return self._fetcher.fetch(next(self._sampler_iter))


_STOP = object()  # the queue message that ends a worker


@dataclass
class _Exhausted:
    """A worker's stream ended (IterableDataset)."""


@dataclass
class _Failed:
    """A worker raised while fetching."""

    error: BaseException


def _worker_loop(
    loader: DataLoader[Any],
    worker_id: int,
    seed: int,
    tasks: queue.SimpleQueue[Any],
    results: queue.SimpleQueue[Any],
) -> None:
    _worker_local.info = WorkerInfo(worker_id, loader.num_workers, seed, loader.dataset)
    failure = None
    try:
        if loader.worker_init_fn is not None:
            loader.worker_init_fn(worker_id)
        fetcher = _Fetcher(loader)
    except BaseException as error:  # reported with the first task
        failure = _Failed(error)
    ended = False
    while (message := tasks.get()) is not _STOP:
        task, index = message
        if ended:  # the main thread skips an exhausted worker's tasks
            continue
        if failure is not None:
            results.put((task, worker_id, failure))
            continue
        try:
            data = fetcher.fetch(index)
        except StopIteration:
            ended = True
            results.put((task, worker_id, _Exhausted()))
        except BaseException as error:
            results.put((task, worker_id, _Failed(error)))
        else:
            results.put((task, worker_id, data))


class _ThreadedLoaderIter(_BaseLoaderIter):
    """One pass with worker threads. Tasks (batch number, indices) go to the workers in
    turn, up to prefetch_factor per worker ahead; batches are handed out in task order.
    A worker whose stream ended gets no more tasks, and its outstanding ones are skipped
    (PyTorch's bookkeeping, so a stream split by get_worker_info() comes out alike)."""

    def __init__(self, loader: DataLoader[Any]) -> None:
        super().__init__(loader)
        n = loader.num_workers
        self._num_workers = n
        self._timeout = loader.timeout
        self._max_tasks = loader.prefetch_factor * n  # type: ignore[operator]
        base_seed = self._base_seed  # worker i gets base_seed + i, as in PyTorch
        self._tasks: list[queue.SimpleQueue[Any]] = [queue.SimpleQueue() for _ in range(n)]
        self._results: queue.Queue[Any] = queue.Queue()
        self._active = [True] * n
        self._next_worker = itertools.cycle(range(n))
        self._task_info: dict[int, tuple[Any, ...]] = {}  # task -> (worker,) or (worker, data)
        self._send_idx = 0
        self._rcvd_idx = 0
        self._outstanding = 0
        self._shut = False
        self._threads = [
            threading.Thread(
                target=_worker_loop,
                args=(loader, i, base_seed + i, self._tasks[i], self._results),
                name=f"DataLoader worker {i}",
                daemon=True,
            )
            for i in range(n)
        ]
        for thread in self._threads:
            thread.start()
        for _ in range(self._max_tasks):
            self._dispatch()

    def _dispatch(self) -> None:
        """Send the next index to the next active worker, if any."""
        try:
            index = next(self._sampler_iter)
        except StopIteration:
            return
        for _ in range(self._num_workers):
            worker = next(self._next_worker)
            if self._active[worker]:
                break
        else:
            return
        self._tasks[worker].put((self._send_idx, index))
        self._task_info[self._send_idx] = (worker,)
        self._outstanding += 1
        self._send_idx += 1

    def _next_data(self) -> Any:
        while True:
            # skip the tasks of workers whose stream ended
            while self._rcvd_idx < self._send_idx:
                info = self._task_info.get(self._rcvd_idx)
                if info is not None and (len(info) == 2 or self._active[info[0]]):
                    break
                self._task_info.pop(self._rcvd_idx, None)
                self._rcvd_idx += 1
            else:
                self._shutdown()
                raise StopIteration
            info = self._task_info[self._rcvd_idx]
            if len(info) == 2:
                del self._task_info[self._rcvd_idx]
                self._rcvd_idx += 1
                return self._deliver(info[1])
            task, worker, data = self._receive()
            self._outstanding -= 1
            if isinstance(data, _Exhausted):
                self._active[worker] = False
                self._tasks[worker].put(_STOP)
                self._dispatch()
                continue
            if task != self._rcvd_idx:
                self._task_info[task] += (data,)
            else:
                del self._task_info[task]
                self._rcvd_idx += 1
                return self._deliver(data)

    def _receive(self) -> tuple[int, int, Any]:
        try:
            return self._results.get(timeout=self._timeout or None)
        except queue.Empty:
            self._shutdown()
            raise RuntimeError(f"DataLoader timed out after {self._timeout} seconds") from None

    def _deliver(self, data: Any) -> Any:
        self._dispatch()
        if isinstance(data, _Failed):
            self._shutdown()
            error = data.error
            if hasattr(error, "add_note"):
                error.add_note("(raised in a DataLoader worker thread)")
            raise error
        return data

    def _shutdown(self) -> None:
        if not getattr(self, "_shut", True):
            self._shut = True
            for tasks in self._tasks:
                tasks.put(_STOP)

    def __del__(self) -> None:
        self._shutdown()
