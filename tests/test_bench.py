"""The benchmark harness (`python -m tracer.bench`): the quick run end to end, the
cross-check that keeps wrong answers out of the tables, selection, ratios and targets.

PyTorch, JAX and matplotlib are hidden from the subprocess runs (a folder of stub
packages that raise ImportError goes first on PYTHONPATH), so these tests behave
the same whether or not they are installed. Nothing here asserts on a timing."""

from __future__ import annotations

import importlib.util
import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from tracer.bench import cli, report, runner
from tracer.bench.firstcall import CHILD
from tracer.bench.impls import (
    IMPLEMENTATIONS,
    WORKLOAD_IMPLEMENTATIONS,
    Implementation,
    Unavailable,
    usable_cores,
)
from tracer.bench.timing import Settings, Timing, measure
from tracer.bench.workloads import WORKLOADS

ROOT = pathlib.Path(__file__).resolve().parent.parent
HIDDEN = ("torch", "jax", "matplotlib")
QUICK_STEADY = [
    "notebook-5",
    "notebook-1e3",
    "chain-1e3",
    "mlp-b16",
    "train-mlp-b16",
    "spring-t10",
    "rnn-t4",
    "per-example-grads-b4",
    "hessian-rosenbrock-n8",
    "gauss-newton-m50",
]
LOOPS = {"spring", "rnn"}  # the loop workloads: they also have the unrolled-trace row
TRAIN = "train-mlp"  # the training step: it also has the traced-step row
TRACED_STEP_UNAVAILABLE = "@tracer.trace of the training step raised "
QUICK_FIRST_CALL = ["first-call-notebook-5"]
TINY = Settings(warmup=0, min_sample_s=1e-4, min_repeats=3, max_repeats=3, budget_s=0.0)


def bench(tmp_path: pathlib.Path, *args: str) -> subprocess.CompletedProcess:
    """`python -m tracer.bench ARGS` with torch, jax and matplotlib hidden and a
    private compile cache."""
    stubs = tmp_path / "hidden"
    for name in HIDDEN:
        (stubs / name).mkdir(parents=True, exist_ok=True)
        (stubs / name / "__init__.py").write_text(
            f"raise ImportError('{name} is hidden by test_bench')\n"
        )
    env = dict(
        os.environ,
        TRACER_CACHE_DIR=str(tmp_path / "cache"),
        PYTHONPATH=os.pathsep.join([str(stubs), str(ROOT)]),
    )
    return subprocess.run(
        [sys.executable, "-m", "tracer.bench", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture(scope="module")
def quick(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess, dict]:
    tmp = tmp_path_factory.mktemp("bench")
    proc = bench(tmp, "--quick", "--json", str(tmp / "out.json"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc, json.loads((tmp / "out.json").read_text())


# ---- the quick run, end to end ------------------------------------------------


def test_quick_run_writes_json_with_every_case_and_implementation(quick):
    _, data = quick
    assert data["schema"] == "tracer.bench/1" and data["ok"] is True
    assert [c["id"] for c in data["cases"]] == QUICK_STEADY + QUICK_FIRST_CALL
    for case in data["cases"]:
        if case["kind"] == "steady":
            expected = [n for n in IMPLEMENTATIONS if n not in ("tracer-unrolled", "tracer-step")]
            if case["workload"] in LOOPS:
                expected = [n for n in IMPLEMENTATIONS if n != "tracer-step"]
            if case["workload"] == TRAIN:
                expected = [n for n in IMPLEMENTATIONS if n != "tracer-unrolled"]
            assert list(case["results"]) == expected
        else:
            assert list(case["results"]) == [
                "tracer-compiled-cold",
                "tracer-compiled-warm",
                "tracer-eager",
                "torch",
                "jax",
            ]


def test_quick_run_times_and_checks_every_available_row(quick):
    _, data = quick
    for case in data["cases"]:
        for name, row in case["results"].items():
            if row["impl"] in ("torch", "jax"):
                assert row["status"] == "skipped" and "not importable" in row["reason"]
                continue
            if row["impl"] == "tracer-step" and row["status"] == "skipped":  # not traceable yet
                assert row["reason"].startswith(TRACED_STEP_UNAVAILABLE)
                assert "\n" not in row["reason"] and row["timing"] is None
                continue
            assert row["status"] == "ok", (case["id"], name, row["reason"])
            assert row["median_s"] > 0 and row["vs_best"] >= 1
            assert row["max_error"] < 1e-3
            assert len(row["timing"]["samples"]) >= 1


def test_quick_run_skips_missing_libraries_with_one_line_notes(quick):
    proc, data = quick
    assert any(n.startswith("torch eager: skipped") for n in data["notes"])
    assert any(n.startswith("jax jit: skipped") for n in data["notes"])
    assert all("\n" not in n for n in data["notes"])
    assert "note: jax jit: skipped" in proc.stdout


def test_json_records_ratios_of_tracer_compiled_to_each_peer(quick):
    _, data = quick
    for case in data["cases"]:
        if case["kind"] == "steady":
            peers = {"tracer-eager", "numpy"} | (
                {"tracer-unrolled"} if case["workload"] in LOOPS else set()
            )
            subjects = ["tracer-compiled"]
            if case["results"].get("tracer-step", {}).get("status") == "ok":
                subjects.append("tracer-step")
            assert set(case["ratios"]) == {f"{s}/{p}" for s in subjects for p in peers}
        else:
            assert set(case["ratios"]) == {
                "tracer-compiled-cold/tracer-eager",
                "tracer-compiled-warm/tracer-eager",
            }
        assert all(v > 0 for v in case["ratios"].values())


def test_json_lists_targets_unmeasured_when_the_peer_is_missing(quick):
    _, data = quick
    assert {(t["case"], t["ratio"], t["bound"]) for t in data["targets"]} == {
        ("notebook-5", "tracer-compiled/jax", 1.0),
        ("first-call-notebook-5", "tracer-compiled-cold/jax", 5.0),
        ("first-call-notebook-5", "tracer-compiled-warm/jax", 1.5),
    }
    assert all(t["value"] is None and t["met"] is None for t in data["targets"])


def test_json_header_records_machine_versions_and_blas(quick):
    _, data = quick
    header = data["header"]
    keys = ("cpu", "cores", "python", "numpy", "numba", "torch", "jax", "blas", "threads")
    for key in keys + ("tracer_path",):
        assert key in header
    assert header["python"] == ".".join(map(str, sys.version_info[:3]))


def test_quick_run_prints_a_table_per_case_and_the_targets(quick):
    proc, _ = quick
    out = proc.stdout
    assert out.startswith("machine: ")
    for case_id in QUICK_STEADY + QUICK_FIRST_CALL:
        assert f"\n{case_id}  " in out
    assert "tracer compiled ÷ numpy by hand = " in out
    assert "tracer compiled ÷ jax jit: not measured (target ≤ 1)" in out
    assert "\ntargets: " in out
    assert "[1/" in proc.stderr  # the progress display


def test_plot_without_matplotlib_stops_before_running_with_a_clear_message(tmp_path):
    proc = bench(tmp_path, "--quick", "--plot", str(tmp_path / "chart.png"))
    assert proc.returncode == 2
    assert "--plot needs matplotlib" in proc.stderr and "pip install" in proc.stderr
    assert not (tmp_path / "chart.png").exists()


def test_first_call_child_imports_no_tracer_for_other_libraries(tmp_path):
    env = dict(os.environ, TRACER_CACHE_DIR=str(tmp_path))
    proc = subprocess.run(
        [sys.executable, str(CHILD), "numpy", "notebook", "5"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    result = json.loads(proc.stdout.splitlines()[-1])
    assert result["tracer_imported"] is False
    assert result["import_s"] > 0 and result["first_call_s"] > 0
    value, _ = WORKLOADS["notebook"].numpy_value_and_grad(*WORKLOADS["notebook"].inputs(5))
    assert result["value"] == pytest.approx(float(value))


# ---- the cross-check ------------------------------------------------------------


def impl(name: str, fn) -> Implementation:
    """An implementation from `fn(workload, inputs) -> (value, grads)`, computed once."""

    def prepare(w, inputs):
        result = fn(w, inputs)
        return lambda: result

    return Implementation(name, name.replace("-", " "), prepare)


def right(w, inputs):
    return w.numpy_value_and_grad(*inputs)


def scaled(factor):
    return lambda w, inputs: (right(w, inputs)[0], [g * factor for g in right(w, inputs)[1]])


WRONG = {
    "gradient off by 1%": (scaled(np.float32(1.01)), "grad[0]: max |error|"),
    "gradient of the wrong sign": (scaled(np.float32(-1)), "grad[0]: max |error|"),
    "value off": (lambda w, i: (right(w, i)[0] + 1, right(w, i)[1]), "value: max |error|"),
    "float64 gradient": (
        lambda w, i: (right(w, i)[0], [g.astype(np.float64) for g in right(w, i)[1]]),
        "grad[0]: dtype float64, expected float32",
    ),
    "NaN in gradient": (
        lambda w, i: (right(w, i)[0], [np.full_like(g, np.nan) for g in right(w, i)[1]]),
        "grad[0]: contains NaN",
    ),
    "gradient of the wrong shape": (
        lambda w, i: (right(w, i)[0], [g[:-1] for g in right(w, i)[1]]),
        "grad[0]: shape",
    ),
    "a gradient missing": (lambda w, i: (right(w, i)[0], []), "0 gradients, expected 1"),
    "not a (value, grads) pair": (lambda w, i: right(w, i)[0], "not (value, gradients)"),
}


@pytest.mark.parametrize("kind", WRONG)
def test_cross_check_marks_a_wrong_implementation_and_never_times_it(kind):
    fn, reason = WRONG[kind]
    case = runner.select(WORKLOADS.values(), True, ["notebook-5"])
    [result] = runner.run(case, [impl("numpy-copy", right), impl("wrong", fn)], TINY)
    good, bad = result.rows
    assert (good.status, bad.status) == ("ok", "wrong")
    assert reason in bad.reason
    assert bad.timing is None and bad.vs_best is None and good.vs_best == 1.0


def test_cross_check_accepts_float32_rounding_on_every_workload():
    for w in WORKLOADS.values():
        if w.name in WORKLOAD_IMPLEMENTATIONS:  # not a loss: its own rows (see below)
            continue
        f32 = impl("float32", right)
        for case in runner.cases([w], quick=True):
            if not case.first_call:
                [result] = runner.run([case], [f32], TINY)
                assert result.rows[0].status == "ok", result.rows[0].reason


def test_a_raising_implementation_is_an_error_row_not_a_crash():
    def boom(w, inputs):
        raise RuntimeError("no kernel for this\nsecond line")

    [result] = runner.run(
        runner.select(WORKLOADS.values(), True, ["notebook-5"]),
        [Implementation("boom", "boom", boom)],
        TINY,
    )
    assert result.rows[0].status == "error"
    assert result.rows[0].reason == "RuntimeError: no kernel for this"


def test_cli_exits_1_and_says_wrong_when_a_row_is_wrong(capsys):
    impls = {"numpy": impl("numpy", right), "wrong": impl("wrong", scaled(np.float32(2)))}
    code = cli.main(["--quick", "--quiet", "--workload", "notebook-5"], impls=impls)
    out, err = capsys.readouterr()
    assert code == 1
    assert "WRONG: grad[0]" in out and "notebook-5/wrong" in err


def test_unavailable_implementation_is_skipped_with_its_reason():
    ghost = Implementation("ghost", "ghost", right, requires=("no_such_module_for_bench",))
    notes: list[str] = []
    [result] = runner.run(
        runner.select(WORKLOADS.values(), True, ["notebook-5"]),
        [impl("numpy", right), ghost],
        TINY,
        notes=notes,
    )
    assert result.rows[1].status == "skipped"
    assert notes == [f"ghost: skipped, {result.rows[1].reason}"]
    assert "no_such_module_for_bench not importable" in notes[0]


# ---- ratios and targets -------------------------------------------------------


def test_ratios_and_targets_compare_tracer_compiled_with_its_peers():
    cases = runner.select(WORKLOADS.values(), True, ["notebook-5", "chain-1e6"])
    peers = [impl(n, right) for n in ("tracer-compiled", "numpy", "jax")]
    results = runner.run(cases, peers, TINY)
    for res in results:
        assert set(res.ratios) == {"tracer-compiled/numpy", "tracer-compiled/jax"}
        for key, value in res.ratios.items():
            subject, peer = (res.row(n).timing.median for n in key.split("/"))
            assert value == pytest.approx(subject / peer)
    chain = {t.key: t for t in results[1].targets}
    assert {k: t.bound for k, t in chain.items()} == {
        "tracer-compiled/jax": 1.0,
        "tracer-compiled/numpy": 0.2,
    }
    assert all(t.met == (t.value <= t.bound) for t in chain.values())


def test_implementations_are_sampled_round_robin_and_a_failure_stays_in_its_row():
    log: list[str] = []
    broken: set[str] = set()

    def step(name: str):
        def call():
            log.append(name)
            if name in broken:
                raise RuntimeError("flaky")

        return call

    def on_round(r: int, rounds: int) -> None:
        if r == 2:
            broken.add("c")
            log.clear()

    settings = Settings(warmup=1, min_sample_s=0.0, min_repeats=4, max_repeats=4)
    a, b, c = measure([step("a"), step("b"), step("c")], settings, on_round)
    assert log == ["a", "b", "c", "a", "b", "a", "b"]  # rounds 2 to 4
    assert a.loops == b.loops == 1 and len(a.samples) == len(b.samples) == 4
    assert isinstance(c, RuntimeError)


def test_rows_with_a_wide_spread_are_called_out_as_noisy():
    case = runner.select(WORKLOADS.values(), True, ["notebook-5"])[0]
    steady = runner.Row("a", "a", "a", "ok", timing=Timing.of([1.0, 1.0, 1.1, 1.0, 1.0]))
    noisy = runner.Row("b", "b", "b", "ok", timing=Timing.of([1.0, 3.0, 1.0, 2.0, 5.0]))
    note = report.noise_note([runner.CaseResult(case, [steady, noisy])])
    assert "1 row(s)" in note and "notebook-5/b" in note and "notebook-5/a" not in note
    assert report.noise_note([runner.CaseResult(case, [steady])]) == ""


def test_timing_reports_median_and_quartiles_of_its_samples():
    t = Timing.of([5.0, 1.0, 3.0, 2.0, 4.0], loops=10)
    assert (t.median, t.q25, t.q75, t.iqr, t.loops) == (3.0, 2.0, 4.0, 2.0, 10)


# ---- choosing workloads and implementations -----------------------------------

SELECT = [
    ([], QUICK_STEADY + QUICK_FIRST_CALL),
    (["notebook"], ["notebook-5", "notebook-1e3"]),
    (["first-call"], QUICK_FIRST_CALL),
    (["mlp-b512"], ["mlp-b512"]),  # a full-run size, asked for by id
    (["chain", "notebook-5"], ["notebook-5", "chain-1e3"]),
]


@pytest.mark.parametrize(("names", "ids"), SELECT)
def test_quick_selection_by_workload_or_case_id(names, ids):
    assert [c.id for c in runner.select(WORKLOADS.values(), True, names)] == ids


def test_full_run_has_the_design_sizes():
    ids = [c.id for c in runner.cases(WORKLOADS.values(), quick=False)]
    assert ids == [
        "notebook-5",
        "notebook-1e3",
        "notebook-1e6",
        "chain-1e3",
        "chain-1e6",
        "mlp-b64",
        "mlp-b512",
        "adam-step-p203530",
        "train-mlp-b64",
        "train-mlp-b512",
        "spring-t200",
        "rnn-t100",
        "lenet-b64",
        "lstm-b32",
        "per-example-grads-b64",
        "hessian-rosenbrock-n100",
        "gauss-newton-m1e3",
        "first-call-notebook-5",
        "first-call-mlp-b64",
        "first-call-spring-t200",
        "first-call-rnn-t100",
        "first-call-lenet-b64",
        "first-call-lstm-b32",
        "first-call-per-example-grads-b64",
        "first-call-hessian-rosenbrock-n100",
        "first-call-gauss-newton-m1e3",
    ]


def test_unknown_workload_is_a_usage_error_naming_the_choices(capsys):
    with pytest.raises(ValueError, match="unknown workload 'mpl'.*mlp"):
        runner.select(WORKLOADS.values(), False, ["mpl"])
    assert cli.main(["--workload", "mpl"], impls={}) == 2
    assert "unknown workload 'mpl'" in capsys.readouterr().err


def test_unknown_implementation_is_a_usage_error(capsys):
    assert cli.main(["--impl", "tensorflow"], impls={"numpy": impl("numpy", right)}) == 2
    assert "unknown implementation 'tensorflow'; choose from: numpy" in capsys.readouterr().err


def test_impl_option_runs_only_the_named_implementations(capsys):
    impls = {n: impl(n, right) for n in ("numpy", "other")}
    assert (
        cli.main(["--quick", "--quiet", "--workload", "notebook-5", "--impl", "other"], impls=impls)
        == 0
    )
    out = capsys.readouterr().out
    assert "\n  other " in out and "\n  numpy " not in out


def test_list_names_workloads_cases_and_implementations(capsys):
    ghost = Implementation("ghost", "ghost", right, requires=("no_such_module_for_bench",))
    assert cli.main(["--list"], impls={"numpy": impl("numpy", right), "ghost": ghost}) == 0
    out = capsys.readouterr().out
    for name in [*WORKLOADS, "first-call", "mlp-b512", "mlp-b16", "numpy"]:
        assert name in out
    assert "ghost  [skipped: no_such_module_for_bench not importable" in out


def test_plot_writes_a_png_when_matplotlib_is_installed(tmp_path):
    pytest.importorskip("matplotlib")
    impls = {n: impl(n, right) for n in ("tracer-compiled", "numpy")}
    path = tmp_path / "chart.png"
    assert (
        cli.main(["--quick", "--quiet", "--workload", "notebook", "--plot", str(path)], impls=impls)
        == 0
    )
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ---- the loop workloads ---------------------------------------------------------


def float64_finite_differences(w, inputs, steps, eps=1e-6):
    """Central differences of the float64 loss (the numpy code's value) w.r.t. w.wrt."""
    x64 = [a.astype(np.float64) for a in inputs]

    def value(args):
        return float(w.numpy_value_and_grad(*args, steps=steps)[0])

    grads = []
    for k in w.wrt:
        g = np.zeros(x64[k].shape)
        for i in range(x64[k].size):
            hi, lo = [a.copy() for a in x64], [a.copy() for a in x64]
            hi[k].flat[i] += eps
            lo[k].flat[i] -= eps
            g.flat[i] = (value(hi) - value(lo)) / (2 * eps)
        grads.append(g)
    return grads


@pytest.mark.parametrize(("name", "steps"), [("spring", 30), ("rnn", 3)])
def test_loop_workloads_numpy_gradients_match_float64_finite_differences(name, steps):
    w = WORKLOADS[name]
    inputs = w.inputs(steps)
    if name == "rnn":  # a smaller hidden state keeps the differences quick
        inputs = [inputs[0][:6], inputs[1][:6, :6], inputs[2][:6], inputs[3][:, :6], inputs[4]]
    x64 = [a.astype(np.float64) for a in inputs]
    _, grads = w.numpy_value_and_grad(*x64, steps=steps)
    for g, fd in zip(grads, float64_finite_differences(w, inputs, steps)):
        np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-9)


def test_a_loop_workload_binds_its_trip_count_to_the_size():
    w = WORKLOADS["spring"]
    inputs = w.inputs(7)
    bound = w.at(7).numpy_value_and_grad(*inputs)[0]
    assert bound == w.numpy_value_and_grad(*inputs, steps=7)[0]
    assert bound != w.numpy_value_and_grad(*inputs, steps=8)[0]
    assert WORKLOADS["mlp"].at(64) is WORKLOADS["mlp"]


def test_the_unrolled_row_exists_for_loop_workloads_only_and_up_to_its_size():
    unrolled = IMPLEMENTATIONS["tracer-unrolled"]
    assert {w.name for w in WORKLOADS.values() if unrolled.applies(w)} == LOOPS
    spring = WORKLOADS["spring"]
    assert unrolled.skip(spring, spring.unrolled_max_size) is None
    assert "not run at 200 steps" in unrolled.skip(spring, 200)
    assert IMPLEMENTATIONS["tracer-compiled"].skip(spring, 200) is None


def test_loop_first_call_targets_bound_seconds_and_the_ratio_to_jax_first_call():
    [case] = runner.select(WORKLOADS.values(), False, ["first-call-rnn-t100"])

    def row(name, impl, first_call_s):
        timing = Timing.of([first_call_s + 1.0])  # import + first call
        return runner.Row(name, name, impl, "ok", timing=timing, first_call_s=first_call_s)

    rows = [row("tracer-compiled-cold", "tracer-compiled", 1.5), row("jax", "jax", 0.25)]
    result = runner.CaseResult(case, rows)
    runner.summarize(result)
    targets = {(t.key, t.measure): t for t in result.targets}
    seconds = targets[("tracer-compiled-cold", runner.FIRST_CALL_PART)]
    assert (seconds.value, seconds.bound, seconds.met) == (1.5, 2.0, True)
    vs_jax = targets[("tracer-compiled-cold/jax", runner.FIRST_CALL_PART)]
    assert (vs_jax.value, vs_jax.bound, vs_jax.met) == (6.0, 3.0, False)
    assert result.first_call_ratios == {"tracer-compiled-cold/jax": 6.0}
    text = report.format_targets([result])
    assert "MISSED" in text and "met" in text


# ---- the training step ----------------------------------------------------------


def paper_adam(params, grads_of, steps, lr=1e-3, b1=0.9, b2=0.999, eps=1e-8):
    """Adam as Kingma & Ba's Algorithm 1 writes it (bias-corrected m_hat and v_hat, eps
    added to sqrt(v_hat)): the losses of `steps` steps and the parameters after them."""
    params = [p.copy() for p in params]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    losses = []
    for t in range(1, steps + 1):
        loss, grads = grads_of(params)
        losses.append(loss)
        for i, g in enumerate(grads):
            m[i] = b1 * m[i] + (1 - b1) * g
            v[i] = b2 * v[i] + (1 - b2) * g * g
            m_hat, v_hat = m[i] / (1 - b1**t), v[i] / (1 - b2**t)
            params[i] = params[i] - lr * m_hat / (np.sqrt(v_hat) + eps)
    return np.array(losses), params


def test_training_reference_is_adam_of_the_paper_on_the_mlp_gradients():
    w = WORKLOADS[TRAIN]
    x64 = [a.astype(np.float64) if a.dtype.kind == "f" else a for a in w.inputs(16)]
    losses, params = w.numpy_value_and_grad(*x64)

    def grads_of(ps):
        return WORKLOADS["mlp"].numpy_value_and_grad(*ps, *x64[4:])

    want_losses, want_params = paper_adam(x64[:4], grads_of, len(losses))
    np.testing.assert_allclose(losses, want_losses, rtol=1e-12)
    for got, want in zip(params, want_params):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)


def test_check_stacks_the_values_of_a_stateful_step_as_they_were():
    state = np.zeros(1, np.float32)

    def step():
        state[:] += 1  # in place: the value returned last time changes too
        return state, [state]

    values, last = runner.first_results(step, 3)
    np.testing.assert_array_equal(values, [[1], [2], [3]])
    assert last[0] is state


def train_case():
    return runner.select(WORKLOADS.values(), True, [f"{TRAIN}-b16"])


def adam_variant(**bug):
    """NumpyAdamMLP with one thing wrong."""
    from tracer.bench.workloads import NumpyAdamMLP

    lr, (beta1, beta2), eps = bug.get("lr", 1e-3), bug.get("betas", (0.9, 0.999)), 1e-8
    eps = bug.get("eps", eps)

    class Wrong(NumpyAdamMLP):
        def step(self):
            loss, grads = WORKLOADS["mlp"].numpy_value_and_grad(*self.params, self.x, self.y)
            self.t += 1
            for i, (p, g, m, v) in enumerate(zip(self.params, grads, self.m, self.v)):
                if i in bug.get("frozen", ()):
                    continue
                m[:] = beta1 * m + (1 - beta1) * g
                v[:] = beta2 * v + (1 - beta2) * g * g
                if bug.get("no_bias_correction"):
                    p -= np.float32(lr) * m / (np.sqrt(v) + np.float32(eps))
                else:
                    m_hat, v_hat = m / (1 - beta1**self.t), v / (1 - beta2**self.t)
                    p -= np.float32(lr) * m_hat / (np.sqrt(v_hat) + np.float32(eps))
            return loss, self.params

    return lambda w, inputs: Wrong(*inputs).step


WRONG_STEPS = {
    "learning rate doubled": dict(lr=2e-3),
    "no bias correction": dict(no_bias_correction=True),
    "beta2 0.99": dict(betas=(0.9, 0.99)),
    "eps 1e-6": dict(eps=1e-6),
    "b2 never updated": dict(frozen=(3,)),
}


@pytest.mark.parametrize("kind", WRONG_STEPS)
def test_cross_check_marks_a_wrong_training_step(kind, monkeypatch):
    own = WORKLOAD_IMPLEMENTATIONS[TRAIN]
    monkeypatch.setitem(own, "wrong", ("wrong", adam_variant(**WRONG_STEPS[kind])))
    monkeypatch.setitem(own, "right", ("right", adam_variant()))
    bench_impls = [Implementation(n, n, right) for n in ("right", "wrong")]
    [result] = runner.run(train_case(), bench_impls, TINY)
    assert [r.status for r in result.rows] == ["ok", "wrong"], result.rows[1].reason


def test_every_training_step_of_this_machine_agrees_with_the_reference():
    """tracer's rows always; PyTorch's and JAX's when installed."""
    [result] = runner.run(train_case(), list(IMPLEMENTATIONS.values()), TINY)
    for row in result.rows:
        if row.status == "skipped":
            assert row.impl in ("torch", "jax", "tracer-step"), (row.name, row.reason)
            if row.impl == "tracer-step" and "not importable" not in row.reason:
                assert row.reason.startswith(TRACED_STEP_UNAVAILABLE)
        else:
            assert row.status == "ok", (row.name, row.reason)


def test_an_unavailable_implementation_is_skipped_with_its_one_line_reason(monkeypatch):
    def not_yet(w, inputs):
        raise Unavailable("cannot trace this yet")

    monkeypatch.setitem(WORKLOAD_IMPLEMENTATIONS[TRAIN], "later", ("later", not_yet))
    [result] = runner.run(train_case(), [Implementation("later", "later", right)], TINY)
    row = result.rows[0]
    assert (row.status, row.reason, row.timing) == ("skipped", "cannot trace this yet", None)


def test_the_training_targets_bound_both_compiled_rows_against_torch_and_jax():
    [case] = runner.select(WORKLOADS.values(), False, [f"{TRAIN}-b512"])

    def row(name, median):
        return runner.Row(name, name, name, "ok", timing=Timing.of([median]))

    result = runner.CaseResult(
        case, [row("tracer-compiled", 2.0), row("torch", 5.0), row("jax", 1.0)]
    )
    runner.summarize(result)
    targets = {t.key: (t.bound, t.value, t.met) for t in result.targets}
    assert targets == {
        "tracer-compiled/torch": (0.5, 0.4, True),
        "tracer-compiled/jax": (1.0, 2.0, False),
        "tracer-step/torch": (0.5, None, None),
        "tracer-step/jax": (1.0, None, None),
    }


def test_torch_rows_run_with_one_thread_per_usable_core():
    pytest.importorskip("torch")
    from tracer.bench.impls import import_torch

    assert import_torch().get_num_threads() == usable_cores()


@pytest.mark.parametrize("n", sorted({1, min(2, usable_cores())}))
def test_header_reads_numpys_openblas_thread_count_from_the_library(n, tmp_path):
    code = "import numpy; from tracer.bench import machine; print(machine.openblas_runtime())"
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(n), TRACER_CACHE_DIR=str(tmp_path))
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if proc.stdout.strip() == "None":
        pytest.skip("numpy's BLAS here is not a loaded OpenBLAS")
    assert proc.stdout.strip().endswith(f", {n})"), proc.stdout + proc.stderr


def test_threads_option_pins_torch_and_numpys_openblas(monkeypatch):
    from tracer.bench import machine
    from tracer.bench.impls import THREADS_ENV, bench_threads

    before = machine.openblas_runtime()
    monkeypatch.setenv(THREADS_ENV, "")  # monkeypatch restores both variables after
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "")
    try:
        cli.pin_threads(1)
        assert bench_threads() == 1 and os.environ["OPENBLAS_NUM_THREADS"] == "1"
        if before is not None:
            assert machine.openblas_runtime()[1] == 1
        if importlib.util.find_spec("torch") is not None:
            from tracer.bench.impls import import_torch

            assert import_torch().get_num_threads() == 1
    finally:
        if before is not None:
            machine.set_blas_threads(before[1])
        if importlib.util.find_spec("torch") is not None:
            import torch

            torch.set_num_threads(usable_cores())


def test_threads_below_one_is_a_usage_error(capsys):
    assert cli.main(["--threads", "0"], impls={}) == 2
    assert "--threads must be at least 1" in capsys.readouterr().err


# ---- the function transforms (issue 18) ------------------------------------------------

TRANSFORMS = ["per-example-grads", "hessian-rosenbrock", "gauss-newton"]


def quick_case(name):
    [case] = runner.select(WORKLOADS.values(), True, [name])
    return case


def test_per_example_reference_averages_to_the_mlp_batch_gradient():
    """The mean of the per-example gradients is the batch gradient (mlp's own numpy
    reference), and the value is the batch loss."""
    x64 = [a.astype(np.float64) if a.dtype.kind == "f" else a for a in WORKLOADS["mlp"].inputs(8)]
    value, per_example = WORKLOADS["per-example-grads"].numpy_value_and_grad(*x64)
    batch_value, batch_grads = WORKLOADS["mlp"].numpy_value_and_grad(*x64)
    assert value == pytest.approx(batch_value, rel=1e-12)
    for got, want in zip(per_example, batch_grads):
        assert got.shape == (8, *want.shape)
        np.testing.assert_allclose(got.mean(axis=0), want, rtol=1e-10, atol=1e-14)


def test_rosenbrock_reference_hessian_matches_float64_second_differences():
    x = WORKLOADS["hessian-rosenbrock"].inputs(6)[0].astype(np.float64)
    _, [hess] = WORKLOADS["hessian-rosenbrock"].numpy_value_and_grad(x)

    def f(v):
        return WORKLOADS["hessian-rosenbrock"].numpy_value_and_grad(v)[0]

    h, n, eye = 1e-4, len(x), np.eye(len(x))
    fd = np.array(
        [
            [
                (f(x + h * (eye[i] + eye[j])) - f(x + h * (eye[i] - eye[j]))
                 - f(x - h * (eye[i] - eye[j])) + f(x - h * (eye[i] + eye[j]))) / (4 * h * h)
                for j in range(n)
            ]
            for i in range(n)
        ]
    )  # fmt: skip
    # a quartic: truncation O(h^2 * 24 * 100), rounding eps * f / h^2, both below 1e-4
    np.testing.assert_allclose(hess, fd, rtol=0, atol=1e-4 * np.abs(hess).max())


def test_gauss_newton_reference_step_matches_one_with_a_finite_difference_jacobian():
    w = WORKLOADS["gauss-newton"]
    p, t, y, k = [a.astype(np.float64) for a in w.inputs(200)]

    def residuals(q):
        return np.tanh(np.sin(np.outer(t, k)) @ q) - y

    eps, eye = 1e-6, np.eye(len(p))
    jac = np.stack([(residuals(p + eps * e) - residuals(p - eps * e)) / (2 * eps) for e in eye], 1)
    r = residuals(p)
    want = p + np.linalg.solve(jac.T @ jac, -(jac.T @ r))
    cost, [got] = w.numpy_value_and_grad(p, t, y, k)
    assert cost == pytest.approx(0.5 * (r * r).sum(), rel=1e-12)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("name", TRANSFORMS)
def test_every_transform_implementation_of_this_machine_agrees_with_the_reference(name):
    """tracer's rows always; torch.func's and JAX's when installed."""
    [result] = runner.run([quick_case(name)], list(IMPLEMENTATIONS.values()), TINY)
    assert [r.name for r in result.rows] == [
        n for n in IMPLEMENTATIONS if n not in ("tracer-unrolled", "tracer-step")
    ]
    for row in result.rows:
        if row.status == "skipped":
            assert row.impl in ("torch", "jax") and "not importable" in row.reason
        else:
            assert row.status == "ok", (row.name, row.reason)


def hessian_one_entry_off(w, inputs):
    """The Hessian with its largest entry 1% too large (and no longer symmetric)."""
    value, [hess] = right(w, inputs)
    hess = hess.copy()
    hess.flat[np.argmax(np.abs(hess))] *= np.float32(1.01)
    return value, [hess]


def per_example_grads_of_the_batch(w, inputs):
    """Every example given the batch's mean gradient: right shapes, wrong per example."""
    value, grads = right(w, inputs)
    return value, [np.broadcast_to(g.mean(axis=0), g.shape).copy() for g in grads]


def gradient_step_for_gauss_newton(w, inputs):
    """A gradient-descent step -J^T r / |J^T J| in place of the Gauss-Newton step."""
    p, t, y, k = inputs
    features = np.sin(np.outer(t, k))
    m = np.tanh(features @ p)
    jac = (1 - m * m)[:, None] * features
    step = -(jac.T @ (m - y)) / np.linalg.norm(jac.T @ jac, 2)
    return right(w, inputs)[0], [(p + step).astype(p.dtype)]


WRONG_TRANSFORMS = {
    "hessian-rosenbrock": (hessian_one_entry_off, "hessian[0]: max |error|"),
    "per-example-grads": (per_example_grads_of_the_batch, "per-example grad[0]: max |error|"),
    "gauss-newton": (gradient_step_for_gauss_newton, "param[0]: max |error|"),
}


@pytest.mark.parametrize("name", WRONG_TRANSFORMS)
def test_cross_check_marks_a_wrong_transform_and_never_times_it(name, monkeypatch):
    fn, reason = WRONG_TRANSFORMS[name]
    own = WORKLOAD_IMPLEMENTATIONS[name]
    for label, f in [("right", right), ("wrong", fn)]:
        monkeypatch.setitem(own, label, (label, impl(label, f).prepare))
    bench_impls = [Implementation(n, n, right) for n in ("right", "wrong")]
    [result] = runner.run([quick_case(name)], bench_impls, TINY)
    good, bad = result.rows
    assert (good.status, bad.status) == ("ok", "wrong"), (good.reason, bad.reason)
    assert reason in bad.reason and bad.timing is None


def test_the_transform_targets_bound_tracer_compiled_by_jax_jit_steady_state():
    steady = [c for c in runner.cases(WORKLOADS.values(), quick=False) if not c.first_call]
    full = {c.workload.name: c for c in steady}
    for name in TRANSFORMS:
        case = full[name]
        rows = [
            runner.Row(n, n, n, "ok", timing=Timing.of([m]))
            for n, m in [("tracer-compiled", 3.0), ("jax", 2.0), ("torch", 1.0)]
        ]
        result = runner.CaseResult(case, rows)
        runner.summarize(result)
        assert [(t.key, t.bound, t.value, t.met) for t in result.targets] == [
            ("tracer-compiled/jax", 1.0, 1.5, False)
        ]


FIRST_CALL_PEERS = ["numpy", "jax", "torch"]  # the rows that must not import tracer


@pytest.mark.parametrize("peer", FIRST_CALL_PEERS)
@pytest.mark.parametrize(("name", "size"), [(n, WORKLOADS[n].quick_sizes[0]) for n in TRANSFORMS])
def test_first_call_child_runs_a_transform_without_importing_tracer(name, size, peer, tmp_path):
    """A fresh process runs the workload's own implementation (not a loss's) and its
    first value is the reference's; only tracer's rows import tracer."""
    if peer != "numpy":
        pytest.importorskip(peer)
    env = dict(os.environ, TRACER_CACHE_DIR=str(tmp_path), PYTHONPATH=str(ROOT))
    proc = subprocess.run(
        [sys.executable, str(CHILD), peer, name, str(size)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.splitlines()[-1])
    assert result["tracer_imported"] is False
    w = WORKLOADS[name]
    value, _ = runner.reference(w, w.inputs(size))
    assert result["value"] == pytest.approx(float(value), rel=1e-4)
