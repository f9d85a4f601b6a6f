"""tracer.utils.data.DataLoader: batches, order, lengths and determinism as stated by
hand; worker threads give the same batches as the main thread; option checks and
batch structure against torch.utils.data.DataLoader when PyTorch is importable."""

from __future__ import annotations

import threading
import warnings

import numpy as np
import pytest

import tracer
from tracer.utils.data import (
    BatchSampler,
    DataLoader,
    Dataset,
    IterableDataset,
    SequentialSampler,
    TensorDataset,
    get_worker_info,
)

has_generator = pytest.mark.skipif(
    not hasattr(tracer, "Generator"), reason="tracer.Generator (generator= support) not yet"
)


class Range(Dataset):
    """Sample i is (i, float(i) / 2): an int and a float."""

    def __init__(self, n):
        self.n = n

    def __getitem__(self, i):
        return i, i / 2

    def __len__(self):
        return self.n


class Stream(IterableDataset):
    """0..n-1; with workers, each takes every num_workers-th item (the split PyTorch's
    docs recommend)."""

    def __init__(self, n, length=None):
        self.n, self.length = n, length

    def __iter__(self):
        info = get_worker_info()
        start, step = (0, 1) if info is None else (info.id, info.num_workers)
        return iter(range(start, self.n, step))

    def __len__(self):
        return self.n if self.length is None else self.length


def _firsts(loader):
    return [batch[0].tolist() for batch in loader]


def test_batches_in_order_with_a_short_last_batch():
    loader = DataLoader(Range(7), batch_size=3)
    batches = list(loader)
    assert (
        len(loader),
        [b[0].tolist() for b in batches],
        [b[1].tolist() for b in batches],
        [b[0].dtype for b in batches],
        [b[1].dtype for b in batches],
    ) == (
        3,
        [[0, 1, 2], [3, 4, 5], [6]],
        [[0.0, 0.5, 1.0], [1.5, 2.0, 2.5], [3.0]],
        [tracer.int64] * 3,
        [tracer.float64] * 3,
    )


def test_drop_last_drops_the_short_batch():
    loader = DataLoader(Range(7), batch_size=3, drop_last=True)
    assert (len(loader), _firsts(loader)) == (2, [[0, 1, 2], [3, 4, 5]])


def test_default_batch_size_is_one():
    assert _firsts(DataLoader(Range(3))) == [[0], [1], [2]]


def test_a_tensor_dataset_gives_stacked_tensors():
    x = tracer.tensor(np.arange(12.0).reshape(6, 2))
    y = tracer.arange(6)
    xb, yb = next(iter(DataLoader(TensorDataset(x, y), batch_size=4)))
    assert (xb.shape, xb.dtype, yb.tolist()) == ((4, 2), tracer.float64, [0, 1, 2, 3])


def test_batch_size_none_yields_samples_converted_but_not_batched():
    class Arrays(Dataset):
        def __getitem__(self, i):
            return np.array([i, i])

        def __len__(self):
            return 2

    samples = list(DataLoader(Arrays(), batch_size=None))
    assert [(type(s).__name__, s.tolist()) for s in samples] == [
        ("Tensor", [0, 0]),
        ("Tensor", [1, 1]),
    ]


def test_shuffle_visits_every_sample_once_per_epoch_in_a_new_order():
    tracer.manual_seed(0)
    loader = DataLoader(Range(20), batch_size=6, shuffle=True)
    first = sum(_firsts(loader), [])
    second = sum(_firsts(loader), [])
    assert (sorted(first), sorted(second), first != second) == (
        list(range(20)),
        list(range(20)),
        True,
    )


def test_shuffle_is_reproducible_under_manual_seed():
    orders = []
    for _ in range(2):
        tracer.manual_seed(42)
        loader = DataLoader(Range(30), batch_size=4, shuffle=True)
        orders.append([_firsts(loader) for _ in range(3)])
    assert orders[0] == orders[1]


@has_generator
def test_shuffle_with_a_generator_is_reproducible_and_independent_of_the_global_stream():
    def epochs(seed):
        tracer.manual_seed(seed)  # the global stream must not matter
        g = tracer.Generator().manual_seed(5)
        loader = DataLoader(Range(30), batch_size=4, shuffle=True, generator=g)
        return [_firsts(loader) for _ in range(2)]

    assert epochs(0) == epochs(1)


def test_sampler_and_batch_sampler_decide_the_order():
    reverse = list(range(5))[::-1]
    by_sampler = _firsts(DataLoader(Range(5), batch_size=2, sampler=reverse))
    by_batches = _firsts(DataLoader(Range(5), batch_sampler=[[4, 0], [2], [1, 3]]))
    assert (by_sampler, by_batches) == ([[4, 3], [2, 1], [0]], [[4, 0], [2], [1, 3]])


def test_collate_fn_receives_the_list_of_samples():
    loader = DataLoader(Range(4), batch_size=2, collate_fn=lambda samples: samples)
    assert list(loader) == [[(0, 0.0), (1, 0.5)], [(2, 1.0), (3, 1.5)]]


def test_getitems_fetches_a_whole_batch_at_once():
    calls = []

    class Batched(Range):
        def __getitems__(self, indices):
            calls.append(list(indices))
            return [self[i] for i in indices]

    _firsts(DataLoader(Batched(5), batch_size=2))
    assert calls == [[0, 1], [2, 3], [4]]


def test_pin_memory_is_accepted_and_changes_nothing():
    assert _firsts(DataLoader(Range(5), batch_size=2, pin_memory=True)) == _firsts(
        DataLoader(Range(5), batch_size=2)
    )


# ---- iterable datasets ------------------------------------------------------------


@pytest.mark.parametrize(
    "batch_size,drop_last,expected,length",
    [(3, False, [[0, 1, 2], [3, 4, 5], [6]], 3), (3, True, [[0, 1, 2], [3, 4, 5]], 2)],
)
def test_an_iterable_dataset_is_batched_in_stream_order(batch_size, drop_last, expected, length):
    loader = DataLoader(Stream(7), batch_size=batch_size, drop_last=drop_last)
    assert ([b.tolist() for b in loader], len(loader)) == (expected, length)


def test_an_iterable_dataset_longer_than_its_len_warns():
    loader = DataLoader(Stream(4, length=2), batch_size=1)
    len(loader)
    with pytest.warns(UserWarning, match="reported to be 2"):
        list(loader)


# ---- worker threads ---------------------------------------------------------------


@pytest.mark.parametrize("num_workers", [1, 2, 3])
@pytest.mark.parametrize("shuffle", [False, True])
def test_worker_threads_give_the_same_batches_as_the_main_thread(num_workers, shuffle):
    def run(workers):
        tracer.manual_seed(3)
        loader = DataLoader(Range(23), batch_size=4, shuffle=shuffle, num_workers=workers)
        return [_firsts(loader) for _ in range(2)]

    assert run(num_workers) == run(0)


def test_workers_are_threads_with_worker_info_and_init_fn():
    seen = []

    class Where(Range):
        def __getitem__(self, i):
            info = get_worker_info()
            seen.append((info.id, info.num_workers, threading.current_thread().name))
            return super().__getitem__(i)

    started = []
    loader = DataLoader(Where(8), batch_size=2, num_workers=2, worker_init_fn=started.append)
    _firsts(loader)
    assert (sorted(started), {s[:2] for s in seen}, get_worker_info()) == (
        [0, 1],
        {(0, 2), (1, 2)},
        None,
    )


def test_an_iterable_dataset_split_by_worker_info_comes_out_interleaved():
    # worker 0 streams 0, 2, 4, ...; worker 1 streams 1, 3, ...; batches alternate
    loader = DataLoader(Stream(7), batch_size=2, num_workers=2)
    assert [b.tolist() for b in loader] == [[0, 2], [1, 3], [4, 6], [5]]


def test_an_iterable_dataset_split_by_worker_info_matches_torch():
    torch = pytest.importorskip("torch")

    class TorchStream(torch.utils.data.IterableDataset):
        def __init__(self, n):
            self.n = n

        def __iter__(self):
            info = torch.utils.data.get_worker_info()
            return iter(range(info.id, self.n, info.num_workers))

    theirs = [b.tolist() for b in torch.utils.data.DataLoader(TorchStream(7), 2, num_workers=2)]
    ours = [b.tolist() for b in DataLoader(Stream(7), batch_size=2, num_workers=2)]
    assert ours == theirs


def test_an_error_in_a_worker_is_raised_in_the_main_thread():
    class Broken(Range):
        def __getitem__(self, i):
            if i == 5:
                raise KeyError("sample 5 is missing")
            return super().__getitem__(i)

    with pytest.raises(KeyError, match="sample 5 is missing"):
        _firsts(DataLoader(Broken(8), batch_size=2, num_workers=2))


def test_a_slow_worker_times_out():
    release = threading.Event()

    class Slow(Range):
        def __getitem__(self, i):
            release.wait()
            return super().__getitem__(i)

    loader = DataLoader(Slow(4), batch_size=2, num_workers=1, timeout=0.05)
    try:
        with pytest.raises(RuntimeError, match="timed out after 0.05 seconds"):
            next(iter(loader))
    finally:
        release.set()


def test_leaving_an_epoch_early_stops_the_workers():
    loader = DataLoader(Range(40), batch_size=2, num_workers=2)
    iterator = iter(loader)
    next(iterator)
    threads = iterator._threads
    del iterator
    for thread in threads:
        thread.join(timeout=5)
    assert [t.is_alive() for t in threads] == [False, False]


# ---- option checks ----------------------------------------------------------------

INVALID = [
    ("negative_workers", dict(num_workers=-1)),
    ("negative_timeout", dict(timeout=-1)),
    ("prefetch_without_workers", dict(prefetch_factor=2)),
    ("persistent_without_workers", dict(persistent_workers=True)),
    ("sampler_and_shuffle", dict(sampler=[0, 1], shuffle=True)),
    ("batch_sampler_and_batch_size", dict(batch_sampler=[[0]], batch_size=2)),
    ("batch_sampler_and_drop_last", dict(batch_sampler=[[0]], drop_last=True)),
    ("no_batch_size_and_drop_last", dict(batch_size=None, drop_last=True)),
    ("context_without_workers", dict(multiprocessing_context="spawn")),
]


@pytest.mark.parametrize("kwargs", [c[1] for c in INVALID], ids=[c[0] for c in INVALID])
def test_contradictory_options_raise_value_error_like_torch(kwargs):
    with pytest.raises(ValueError):
        DataLoader(Range(4), **kwargs)
    torch = pytest.importorskip("torch")
    with pytest.raises(ValueError):
        torch.utils.data.DataLoader(range(4), **kwargs)


@pytest.mark.parametrize(
    "kwargs", [dict(shuffle=True), dict(sampler=[0]), dict(batch_sampler=[[0]])]
)
def test_an_iterable_dataset_refuses_orders(kwargs):
    with pytest.raises(ValueError, match="IterableDataset: expected unspecified"):
        DataLoader(Stream(3), **kwargs)


def test_settings_cannot_change_after_construction():
    loader = DataLoader(Range(4), batch_size=2)
    with pytest.raises(ValueError, match="batch_size attribute should not be set"):
        loader.batch_size = 3


def test_samplers_and_lengths_equal_torchs():
    torch = pytest.importorskip("torch")
    for kwargs in [
        dict(batch_size=3),
        dict(batch_size=3, drop_last=True),
        dict(batch_size=None),
        dict(sampler=SequentialSampler(range(7)), batch_size=2),
        dict(batch_sampler=BatchSampler(range(7), 4, False)),
    ]:
        ours = DataLoader(Range(7), **kwargs)
        theirs = torch.utils.data.DataLoader(Range(7), **kwargs)
        assert (len(ours), type(ours.sampler).__name__, ours.batch_size) == (
            len(theirs),
            type(theirs.sampler).__name__,
            theirs.batch_size,
        )


def test_batches_equal_torchs_for_a_deterministic_order():
    torch = pytest.importorskip("torch")
    from test_collate import _describe

    for kwargs in [dict(batch_size=3), dict(batch_size=None), dict(batch_size=4, drop_last=True)]:
        ours = [_describe(b) for b in DataLoader(Range(10), **kwargs)]
        theirs = [_describe(b) for b in torch.utils.data.DataLoader(Range(10), **kwargs)]
        assert ours == theirs


def test_the_usual_loop_is_warning_free():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tracer.manual_seed(0)
        for _ in range(2):
            for _ in DataLoader(Range(9), batch_size=4, shuffle=True, num_workers=2):
                pass


def test_a_timeout_without_workers_is_refused_when_iterating():
    loader = DataLoader(Range(4), timeout=1.0)
    with pytest.raises(ValueError, match="with num_workers=0 it must be 0"):
        iter(loader)


@pytest.mark.parametrize("seed", [0, 1, 1234])
@pytest.mark.parametrize("use_generator", [False, True])
@pytest.mark.parametrize("num_workers", [0, 2])
def test_seeded_shuffle_gives_pytorchs_batches_and_leaves_its_stream(
    seed, use_generator, num_workers
):
    torch = pytest.importorskip("torch")

    def run(lib):
        lib.manual_seed(seed)
        g = lib.Generator().manual_seed(seed + 7) if use_generator else None
        data = lib.utils.data.TensorDataset(lib.arange(10))
        loader = lib.utils.data.DataLoader(
            data, batch_size=4, shuffle=True, generator=g, num_workers=num_workers
        )
        epochs = [[b[0].tolist() for b in loader] for _ in range(2)]
        return epochs, lib.rand(3).tolist()

    assert run(tracer) == run(torch)
