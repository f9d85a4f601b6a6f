"""tracer.utils.data's datasets, samplers and random_split: behaviour stated by hand,
and PyTorch's length rules, orders and errors when PyTorch is importable."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import tracer
from tracer.utils import data

has_generator = pytest.mark.skipif(
    not hasattr(tracer, "Generator"), reason="tracer.Generator (generator= support) not yet"
)


class Squares(data.Dataset):
    def __init__(self, n):
        self.n = n

    def __getitem__(self, i):
        if not 0 <= i < self.n:
            raise IndexError(i)
        return i * i

    def __len__(self):
        return self.n


class Count(data.IterableDataset):
    def __init__(self, start, stop):
        self.start, self.stop = start, stop

    def __iter__(self):
        return iter(range(self.start, self.stop))

    def __len__(self):
        return self.stop - self.start


# ---- datasets ---------------------------------------------------------------------


def test_tensor_dataset_indexes_every_tensor_along_the_first_dim():
    x, y = tracer.arange(6).reshape(3, 2), tracer.tensor([10, 20, 30])
    ds = data.TensorDataset(x, y)
    assert (len(ds), [t.tolist() for t in ds[1]]) == (3, [[2, 3], 20])


def test_tensor_dataset_refuses_tensors_of_different_lengths():
    with pytest.raises(AssertionError, match=r"first dimensions are \[3, 2\]"):
        data.TensorDataset(tracer.zeros(3), tracer.zeros(2))


def test_concat_dataset_maps_indices_across_datasets():
    ds = Squares(3) + Squares(2)
    assert (
        len(ds),
        [ds[i] for i in range(5)],
        ds[-1],
        ds.cumulative_sizes,
        isinstance(ds, data.ConcatDataset),
    ) == (5, [0, 1, 4, 0, 1], 1, [3, 5], True)


def test_concat_dataset_errors():
    with pytest.raises(ValueError, match="index -6 is out of range"):
        data.ConcatDataset([Squares(3), Squares(2)])[-6]
    with pytest.raises(AssertionError, match="empty"):
        data.ConcatDataset([])
    with pytest.raises(AssertionError, match="IterableDataset"):
        data.ConcatDataset([Count(0, 2)])


def test_chain_dataset_and_adding_iterable_datasets():
    ds = Count(0, 2) + Count(5, 7)
    assert (list(ds), len(ds), isinstance(ds, data.ChainDataset)) == ([0, 1, 5, 6], 4, True)


def test_stack_dataset_as_tuples_and_dicts():
    by_position = data.StackDataset(Squares(3), Squares(3))
    by_name = data.StackDataset(a=Squares(3), b=Squares(3))
    assert (by_position[2], by_name[2], len(by_name)) == ((4, 4), {"a": 4, "b": 4}, 3)


def test_subset_renumbers_and_fetches_batches():
    sub = data.Subset(Squares(10), [7, 2, 5])
    assert (len(sub), sub[0], sub.__getitems__([2, 1])) == (3, 49, [25, 4])


def test_a_subset_subclass_overriding_only_getitem_is_refused():
    class Doubled(data.Subset):
        def __getitem__(self, i):
            return 2 * super().__getitem__(i)

    with pytest.raises(NotImplementedError, match="overrides __getitem__ but not __getitems__"):
        Doubled(Squares(3), [0, 1])


def test_a_bare_dataset_says_what_is_missing():
    with pytest.raises(NotImplementedError, match="without __getitem__"):
        data.Dataset()[0]


# ---- random_split -----------------------------------------------------------------

SPLITS = [
    ("sizes", 10, [3, 7], [3, 7]),
    ("fractions", 10, [0.3, 0.7], [3, 7]),
    # floor(10 * 1/3) = 3 each, and the remainder 1 goes to the first split
    ("remainder_to_the_first", 10, [1 / 3, 1 / 3, 1 / 3], [4, 3, 3]),
    # floors 2, 2, 2 of 7 at 0.3, 0.3, 0.4 -> [2, 2, 2] + remainder 1 -> [3, 2, 2]
    ("uneven", 7, [0.3, 0.3, 0.4], [3, 2, 2]),
    # floors 0, 0, 4 of 5 and the remainder 1 to the first: the middle split is empty
    ("dealt_round_robin", 5, [0.1, 0.1, 0.8], [1, 0, 4]),
]


@pytest.mark.filterwarnings("ignore:.*split at index 1 is 0")
@pytest.mark.parametrize("n,lengths,sizes", [c[1:] for c in SPLITS], ids=[c[0] for c in SPLITS])
def test_random_split_sizes_follow_pytorchs_rule(n, lengths, sizes):
    tracer.manual_seed(0)
    parts = data.random_split(Squares(n), lengths)
    indices = sorted(i for part in parts for i in part.indices)
    assert ([len(p) for p in parts], indices) == (sizes, list(range(n)))


@pytest.mark.filterwarnings("ignore:.*split at index 1 is 0")
@pytest.mark.parametrize("n,lengths", [c[1:3] for c in SPLITS], ids=[c[0] for c in SPLITS])
def test_random_split_sizes_equal_torchs(n, lengths):
    torch = pytest.importorskip("torch")
    theirs = torch.utils.data.random_split(range(n), lengths)
    assert [len(p) for p in data.random_split(Squares(n), lengths)] == [len(p) for p in theirs]


def test_random_split_warns_about_an_empty_split():
    # floors 1, 1, 0 of 3 and the remainder to the first: [2, 1, 0]
    with pytest.warns(UserWarning, match="split at index 2 is 0"):
        data.random_split(Squares(3), [0.5, 0.4, 0.1])


@pytest.mark.parametrize("lengths", [[3, 3], [0.5, 0.6], [11]])
def test_random_split_refuses_lengths_that_do_not_fit(lengths):
    with pytest.raises(ValueError):
        data.random_split(Squares(10), lengths)


def test_random_split_refuses_a_fraction_out_of_range():
    with pytest.raises(ValueError, match="fraction at index 0 is not between 0 and 1"):
        data.random_split(Squares(10), [-0.5, 1.5])


def test_random_split_is_reproducible_under_manual_seed():
    splits = []
    for _ in range(2):
        tracer.manual_seed(123)
        splits.append([p.indices for p in data.random_split(Squares(20), [5, 15])])
    assert splits[0] == splits[1]


@has_generator
def test_random_split_with_a_generator_is_reproducible_and_leaves_the_global_stream():
    def split():
        g = tracer.Generator().manual_seed(7)
        return [p.indices for p in data.random_split(Squares(20), [5, 15], generator=g)]

    tracer.manual_seed(0)
    first = split()
    after = tracer.rand(3).tolist()
    tracer.manual_seed(0)
    assert (split(), tracer.rand(3).tolist()) == (first, after)


# ---- samplers ---------------------------------------------------------------------


def test_sequential_sampler():
    assert (list(data.SequentialSampler(range(4))), len(data.SequentialSampler(range(4)))) == (
        [0, 1, 2, 3],
        4,
    )


def test_random_sampler_is_a_fresh_permutation_each_pass():
    tracer.manual_seed(1)
    sampler = data.RandomSampler(range(20))
    first, second = list(sampler), list(sampler)
    assert (sorted(first), sorted(second), first != second) == (
        list(range(20)),
        list(range(20)),
        True,
    )


def test_random_sampler_num_samples_chains_permutations():
    tracer.manual_seed(0)
    drawn = list(data.RandomSampler(range(4), num_samples=10))
    assert (len(drawn), sorted(drawn[:4]), sorted(drawn[4:8]), set(drawn[8:]) <= {0, 1, 2, 3}) == (
        10,
        [0, 1, 2, 3],
        [0, 1, 2, 3],
        True,
    )


def test_random_sampler_with_replacement_draws_in_range():
    tracer.manual_seed(0)
    drawn = list(data.RandomSampler(range(5), replacement=True, num_samples=70))
    assert (len(drawn), set(drawn) <= set(range(5))) == (70, True)


@pytest.mark.parametrize(
    "kwargs,error",
    [
        (dict(replacement=1), TypeError),
        (dict(num_samples=0), ValueError),
        (dict(num_samples=2.5), ValueError),
    ],
)
def test_random_sampler_checks_its_arguments_like_torch(kwargs, error):
    with pytest.raises(error):
        data.RandomSampler(range(4), **kwargs)
    torch = pytest.importorskip("torch")
    with pytest.raises(error):
        torch.utils.data.RandomSampler(range(4), **kwargs)


def test_random_sampler_of_an_empty_dataset_is_refused():
    with pytest.raises(ValueError, match="num_samples=0"):
        data.RandomSampler([])


def test_subset_random_sampler_permutes_the_given_indices():
    tracer.manual_seed(0)
    drawn = list(data.SubsetRandomSampler([10, 20, 30, 40]))
    assert sorted(drawn) == [10, 20, 30, 40]


BATCHES = [
    (10, 4, False, [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]),
    (10, 4, True, [[0, 1, 2, 3], [4, 5, 6, 7]]),
    (8, 4, True, [[0, 1, 2, 3], [4, 5, 6, 7]]),
    (3, 5, False, [[0, 1, 2]]),
    (3, 5, True, []),
]


@pytest.mark.parametrize("n,size,drop_last,expected", BATCHES)
def test_batch_sampler_groups_indices(n, size, drop_last, expected):
    sampler = data.BatchSampler(data.SequentialSampler(range(n)), size, drop_last)
    assert (list(sampler), len(sampler)) == (expected, len(expected))


@pytest.mark.parametrize(
    "batch_size,drop_last", [(0, False), (True, False), (2.0, False), (2, "yes")]
)
def test_batch_sampler_checks_its_arguments_like_torch(batch_size, drop_last):
    with pytest.raises(ValueError):
        data.BatchSampler(range(4), batch_size, drop_last)
    torch = pytest.importorskip("torch")
    with pytest.raises(ValueError):
        torch.utils.data.BatchSampler(range(4), batch_size, drop_last)


def test_generator_is_refused_clearly_until_tracer_supports_it():
    if hasattr(tracer, "Generator"):
        pytest.skip("tracer has generator support")
    with pytest.raises(TypeError, match="generator= needs tracer.randperm"):
        data.RandomSampler(range(4), generator=object())


def test_samplers_match_torchs_lengths():
    torch = pytest.importorskip("torch")
    cases = [
        (data.RandomSampler(range(7), num_samples=12), torch.utils.data.RandomSampler(range(7), num_samples=12)),
        (data.SubsetRandomSampler([1, 5]), torch.utils.data.SubsetRandomSampler([1, 5])),
        (data.BatchSampler(range(7), 3, False), torch.utils.data.BatchSampler(range(7), 3, False)),
    ]  # fmt: skip
    assert [len(ours) for ours, _ in cases] == [len(theirs) for _, theirs in cases]


def test_random_split_leaves_no_warning_for_sizes():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        data.random_split(Squares(4), [2, 2])


def test_subset_of_a_tensor_dataset_collates_like_the_original():
    x = tracer.tensor(np.arange(8.0).reshape(4, 2))
    sub = data.Subset(data.TensorDataset(x), [3, 1])
    assert [t.tolist() for t in sub[0]] == [[6.0, 7.0]]
