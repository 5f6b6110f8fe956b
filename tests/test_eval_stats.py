"Evaluation statistics: clustered SE, paired comparison, McNemar, power, checked against known values and simulation."
import json, math
import numpy as np
import pytest
from agentfactory.core.errors import InvalidInput
from agentfactory.evaluation.stats import (Comparison, Estimate, clustered_estimate, mcnemar_exact, paired_compare,
                                           power_note, simulate_coverage, simulate_estimate_coverage, task_scores,
                                           tasks_needed)


# --- coverage: a known true difference is inside the interval ~95 % of the time

@pytest.mark.parametrize("true_diff,epochs,seed", [(0.1, 1, 11), (0.0, 3, 12), (-0.15, 2, 13)])
def test_paired_ci_covers_true_difference(true_diff, epochs, seed):
    sim = simulate_coverage(true_diff, n_tasks=60, epochs=epochs, n_runs=400, seed=seed, n_boot=200)
    assert sim["n_runs"] == 400
    assert 0.90 <= sim["coverage"] <= 0.99, sim
    assert 0.90 <= sim["bootstrap_coverage"] <= 0.99, sim
    assert abs(sim["mean_diff"] - sim["target"]) < 0.01, sim          # unbiased
    assert 0.85 < sim["mean_se"]/sim["sd_of_diff"] < 1.15, sim       # the SE matches the real spread


def test_clipping_moves_the_target_below_the_nominal_shift():
    sim = simulate_coverage(0.3, n_tasks=30, n_runs=20, p_base=0.8, task_sd=0.15, seed=0)
    assert sim["target"] < 0.3 - 0.05                                   # tasks near 1 cannot gain the full 0.3


def test_clustered_interval_covers_and_naive_undercovers():
    est = simulate_estimate_coverage(n_tasks=60, epochs=3, n_runs=400, seed=5, task_sd=0.3)
    assert 0.90 <= est["coverage"] <= 0.99, est
    assert est["naive_coverage"] < 0.91 and est["naive_coverage"] < est["coverage"] - 0.04, est
    assert est["mean_naive_se"] < est["mean_se"]
    # without task heterogeneity epochs are independent: the two SEs agree and both cover
    flat = simulate_estimate_coverage(n_tasks=60, epochs=3, n_runs=200, seed=6, task_sd=0.0)
    assert abs(flat["mean_se"]/flat["mean_naive_se"] - 1) < 0.1, flat


# --- clustered estimate

def test_clustered_se_by_hand_and_larger_than_naive_when_epochs_agree():
    # 20 tasks x 3 epochs, every task all-pass or all-fail: epochs perfectly correlated
    tasks = [f"t{i}" for i in range(20)]
    values = [float(i % 2) for i in range(20) for _ in range(3)]
    clusters = [t for t in tasks for _ in range(3)]
    e = clustered_estimate(values, clusters)
    naive = clustered_estimate(values, [str(i) for i in range(60)])
    assert (e.mean, e.n_tasks, e.n_obs) == (0.5, 20, 60)
    # cluster sums are ±1.5, so SE = sqrt(20/19 * 20 * 2.25)/60
    assert e.se == pytest.approx(math.sqrt(20/19*20*2.25)/60)
    assert naive.se == pytest.approx(np.std(values, ddof=1)/math.sqrt(60))
    assert e.se > 1.5*naive.se
    assert e.ci95[0] == pytest.approx(0.5 - 1.959964*e.se, abs=1e-5)


def test_clustered_estimate_edges():
    one = clustered_estimate([1, 0, 1, 1], ["a"]*4)
    assert one.se == 0.0 and one.ci95 == (0.75, 0.75) and "one cluster" in one.note
    assert clustered_estimate([1.0], ["a"]).note.startswith("one observation")
    assert clustered_estimate([1, 1, 1, 0], list("abcd")).ci95[1] == 1.0        # rates clipped to [0, 1]
    assert clustered_estimate([5, 1, 5, 1], list("abcd")).ci95[1] > 5.0          # other scales are not
    for bad in [([], []), ([1, 0], ["a"]), ([1, "x"], ["a", "b"]), ([1, "1"], ["a", "b"]), ([1, math.inf], ["a", "b"]), ([1, 0], [["a"], ["b"]])]:
        with pytest.raises(InvalidInput): clustered_estimate(*bad)
    assert isinstance(Estimate.model_validate_json(one.model_dump_json()), Estimate)


# --- McNemar

def test_mcnemar_known_value():
    assert mcnemar_exact(10, 2) == pytest.approx(0.0386, abs=1e-4)
    assert mcnemar_exact(2, 10) == mcnemar_exact(10, 2)
    assert mcnemar_exact(0, 0) == 1.0 and mcnemar_exact(7, 7) == 1.0
    assert mcnemar_exact(0, 5) == pytest.approx(1/16)
    assert 0 < mcnemar_exact(3000, 2600) < 1e-6                                 # large counts stay exact
    for b, c in [(-1, 2), (1.5, 2), (True, 2)]:
        with pytest.raises(InvalidInput): mcnemar_exact(b, c)


def test_mcnemar_matches_scipy():
    stats = pytest.importorskip("scipy.stats")
    for b, c in [(10, 2), (3, 9), (0, 4), (15, 15), (40, 25)]:
        assert mcnemar_exact(b, c) == pytest.approx(stats.binomtest(b, b + c, 0.5).pvalue, rel=1e-9)


# --- paired comparison

def _one_epoch_runs():
    rng = np.random.default_rng(3)
    base = {f"t{i}": [int(x)] for i, x in enumerate(rng.random(50) < 0.6)}
    cand = dict(base)
    for i in range(5): cand[f"t{i}"] = [1 - base[f"t{i}"][0]]                  # flip five tasks
    return base, cand


def test_paired_compare_binary_one_epoch_reports_mcnemar_and_counts():
    base, cand = _one_epoch_runs()
    c = paired_compare(base, {**cand, "extra": [1]})
    assert c.n_tasks == 50 and c.dropped_tasks == 1
    assert c.improved + c.worsened == 5 and c.unchanged == 45
    assert c.mcnemar_p == pytest.approx(mcnemar_exact(c.worsened, c.improved))
    assert c.diff == pytest.approx((c.improved - c.worsened)/50)
    assert c.diff == pytest.approx(c.candidate_mean - c.baseline_mean)
    d = np.array([cand[t][0] - base[t][0] for t in base], float)
    assert c.se == pytest.approx(d.std(ddof=1)/math.sqrt(50)) and c.sd_diff == pytest.approx(d.std(ddof=1))
    assert paired_compare(base, {t: ys*2 for t, ys in cand.items()}).mcnemar_p is None   # two epochs
    assert paired_compare({t: ys*2 for t, ys in base.items()}, cand).mcnemar_p is None
    assert paired_compare({"a": [0.5]}, {"a": [1.0]}).mcnemar_p is None                 # not binary
    assert isinstance(Comparison.model_validate(json.loads(c.model_dump_json())), Comparison)


def test_paired_compare_p_value_and_bootstrap():
    rng = np.random.default_rng(4)
    base = {f"t{i}": rng.random(3).tolist() for i in range(80)}
    cand = {t: [y + 0.3 for y in ys] for t, ys in base.items()}
    cand = {t: [y + rng.normal(0, 0.2) for y in ys] for t, ys in cand.items()}
    c = paired_compare(base, cand, n_boot=1000, seed=7)
    assert c.p_value < 1e-6 and c.ci95[0] > 0.2
    lo, hi = c.bootstrap_ci95
    assert lo < c.diff < hi and abs((hi - lo) - (c.ci95[1] - c.ci95[0])) < 0.3*(c.ci95[1] - c.ci95[0])
    assert paired_compare(base, cand, n_boot=1000, seed=7).bootstrap_ci95 == c.bootstrap_ci95
    assert paired_compare(base, cand, n_boot=1000, seed=8).bootstrap_ci95 != c.bootstrap_ci95
    flat = paired_compare(base, base)
    assert flat.p_value == 1.0 and flat.ci95 == (0.0, 0.0)


def test_non_inferiority_equal_passes_with_margin_and_worse_fails():
    rng = np.random.default_rng(9)
    probs = rng.beta(3, 2, 200)
    draw = lambda: {f"t{i}": (rng.random(2) < p).astype(int).tolist() for i, p in enumerate(probs)}
    base, equal = draw(), draw()
    assert paired_compare(base, equal, margin=0.1).p_worse < 0.01                # equal: not worse by 0.1
    assert paired_compare(base, equal, margin=0.1).p_worse < paired_compare(base, equal, margin=0.0).p_worse
    worse = {t: [0, 0] if i % 3 == 0 else ys for i, (t, ys) in enumerate(base.items())}   # loses ~20 points
    cw = paired_compare(base, worse, margin=0.05)
    assert cw.diff < -0.1 and cw.p_worse > 0.99 and cw.worsened > 0 and cw.improved == 0


def test_zero_se_is_handled_without_nan():
    same = paired_compare({"a": [1, 0], "b": [1, 1]}, {"a": [1, 0], "b": [1, 1]}, margin=0.05)
    assert (same.se, same.p_value, same.p_worse) == (0.0, 1.0, 0.0) and "same amount" in same.note
    assert paired_compare({"a": [1], "b": [1]}, {"a": [1], "b": [1]}).p_worse == 1.0   # margin 0: cannot show better
    up = paired_compare({"a": [0], "b": [0]}, {"a": [1], "b": [1]})
    assert (up.se, up.p_value, up.p_worse, up.improved) == (0.0, 0.0, 0.0, 2)
    down = paired_compare({"a": [1]}, {"a": [0]}, margin=0.5)
    assert (down.p_value, down.p_worse) == (0.0, 1.0) and "one shared task" in down.note
    for c in (same, up, down):
        assert all(math.isfinite(v) for v in (c.diff, c.se, c.p_value, c.p_worse, *c.ci95, *c.bootstrap_ci95))


@pytest.mark.parametrize("base,cand,kw", [
    ({"a": [1]}, {"b": [1]}, {}), ({"a": []}, {"a": [1]}, {}), ({"a": 1}, {"a": [1]}, {}), ({"a": "1"}, {"a": [1]}, {}),
    ([1], {"a": [1]}, {}), ({"a": [None]}, {"a": [1]}, {}), ({"a": [1]}, {"a": [1]}, {"margin": -0.1}),
    ({"a": [1]}, {"a": [1]}, {"margin": float("nan")}), ({"a": [1]}, {"a": [1]}, {"n_boot": -1})])
def test_paired_compare_rejects_bad_input(base, cand, kw):
    with pytest.raises(InvalidInput): paired_compare(base, cand, **kw)


# --- power

def test_tasks_needed_known_values():
    assert tasks_needed(0.5, 0.1) == 155
    assert tasks_needed(0.5, 0.1, one_sided=False) == 197
    assert tasks_needed(0.5, 0.1, power=0.9) == 215
    assert tasks_needed(0.0, 0.1) == 2
    for args in [(0.5, 0.0), (0.5, -0.1), (-0.1, 0.1), (0.5, 0.1, 1.5), (0.5, 0.1, 0.05, 1.0), (math.nan, 0.1)]:
        with pytest.raises(InvalidInput): tasks_needed(*args)


def test_tasks_needed_gives_the_promised_power():
    "With tasks_needed(sd, delta) tasks, a one-sided test at 5 % detects a true delta about 80 % of the time."
    sd, delta = 0.5, 0.1
    n = tasks_needed(sd, delta)
    rng, ids = np.random.default_rng(21), [f"t{i}" for i in range(n)]
    zero = {t: [0.0] for t in ids}
    hits = sum(paired_compare(zero, dict(zip(ids, ([x] for x in rng.normal(delta, sd, n)))), n_boot=0).p_worse < 0.05
               for _ in range(500))
    assert 0.74 <= hits/500 <= 0.86


def test_power_note_sentence():
    base, cand = _one_epoch_runs()
    c = paired_compare(base, cand)
    note = power_note(c, 0.05)
    assert note == (f"to detect a difference of 0.05 with 80 % power (one-sided α = 0.05) "
                    f"the taskset needs {tasks_needed(c.sd_diff, 0.05)} tasks (it has 50)")
    assert "cannot be estimated" in power_note(paired_compare({"a": [0]}, {"a": [1]}), 0.05)


# --- result rows

def test_task_scores_from_rows_and_dataframes():
    rows = [{"model": m, "task_id": t, "epoch": k, "success": ok, "quality": q}
            for m, t, k, ok, q in [("M0", "a", 1, False, 2.0), ("M0", "a", 0, True, None), ("M1", "a", 0, True, 4.0),
                                   ("M0", "b", 0, False, 1.0), ("M1", "b", 0, True, 5.0)]]
    assert task_scores(rows, model="M0") == {"a": [1.0, 0.0], "b": [0.0]}
    assert task_scores(rows, "quality", model="M0") == {"a": [2.0], "b": [1.0]}
    pl = pytest.importorskip("polars")
    assert task_scores(pl.DataFrame(rows), model="M1") == {"a": [1.0], "b": [1.0]}
    with pytest.raises(InvalidInput): task_scores([{"task_id": "a"}])
    with pytest.raises(InvalidInput): task_scores(["not a row"])
