"Evaluation reports on result rows: benchmark intervals, trend order, error clusters, white/blacklists, side by side, Inspect AI export."
import random
import pytest
from agentfactory.core.errors import InvalidInput, NotFound
from agentfactory.evaluation.reports import (METRICS, benchmark_table, blacklist, error_clusters, level_table, replay_url,
                                             results_frame, side_by_side, to_inspect_log, to_inspect_logs, trend, whitelist)
from agentfactory.evaluation.stats import clustered_estimate

M0, M1 = "support-agent:M0", "support-agent:M1"


def _rows(seed=0, n_tasks=10, epochs=3, models=(M0, M1)):
    "Synthetic result rows: a later model succeeds more often; failures carry a kind and an answer."
    rng, rows = random.Random(seed), []
    for mi, model in enumerate(models):
        for t in range(n_tasks):
            for e in range(epochs):
                ok = rng.random() < 0.4 + 0.3*mi
                kind = None if ok else ("wrong_tool" if t % 2 else "unsupported_fact")
                rows.append(dict(run_id="evr_t", model=model, task_id=f"t{t:02d}", epoch=e, level=1 + t % 5, kind="order_status",
                                 question=f"Where is order A{t}?", success=ok, tool_accuracy=1.0 if ok else 0.0,
                                 quality=None if e == 2 else float(rng.randint(1, 5)), safe=ok or t % 3 != 0,
                                 violations=[], hallucination=0.0 if ok else 0.5, unsupported=[], failure_kind=kind,
                                 n_calls=1, answer="It shipped." if ok else "I looked up the wrong customer record.",
                                 trajectory_id=f"traj_{mi}_{t}_{e}", seconds=0.5))
    return rows


def test_results_frame_needs_the_required_columns():
    with pytest.raises(InvalidInput, match="task_id"): results_frame([{"model": "m", "epoch": 0, "success": True}])
    with pytest.raises(InvalidInput, match="true or false"): results_frame([{"model": "m", "task_id": "t", "epoch": 0, "success": "x"}])
    with pytest.raises(InvalidInput, match="quality"):
        results_frame([{"model": "m", "task_id": "t", "epoch": 0, "success": True, "quality": "great"}])
    df = results_frame([{"model": "m", "task_id": "t", "epoch": 0, "success": True}])
    assert df["tool_accuracy"].isna().all() and df["violations"].tolist() == [[]]


def test_benchmark_means_and_task_clustered_intervals():
    rows = _rows()
    t = benchmark_table(rows).set_index("model")
    for model in (M0, M1):
        mine = [r for r in rows if r["model"] == model]
        e = clustered_estimate([float(r["success"]) for r in mine], [r["task_id"] for r in mine])
        assert t.loc[model, "success"] == pytest.approx(e.mean)
        assert (t.loc[model, "success_lo"], t.loc[model, "success_hi"]) == pytest.approx(e.ci95)
        assert t.loc[model, "n_tasks"] == 10 and t.loc[model, "n_obs"] == 30
        q = [r["quality"] for r in mine if r["quality"] is not None]             # missing quality scores are skipped
        assert t.loc[model, "quality"] == pytest.approx(sum(q)/len(q))
        assert t.loc[model, "safety"] == pytest.approx(sum(r["safe"] for r in mine)/len(mine))
        for m in METRICS: assert t.loc[model, f"{m}_lo"] <= t.loc[model, m] <= t.loc[model, f"{m}_hi"]
    # epochs of one task are one cluster: repeating an epoch verbatim does not narrow the interval
    once = [r for r in rows if r["epoch"] == 0]
    a, b = benchmark_table(once), benchmark_table(once + [{**r, "epoch": 1} for r in once])
    assert list(b["success_se"]) == pytest.approx(list(a["success_se"]))
    with pytest.raises(InvalidInput, match="metric"): benchmark_table(rows, ["speed"])
    with pytest.raises(InvalidInput): benchmark_table([])


def test_level_table_and_trend_order():
    rows = _rows()
    lv = level_table(rows, ["success"])
    assert sorted(set(lv["level"])) == ["L1", "L2", "L3", "L4", "L5"] and len(lv) == 10
    m10 = [{**r, "model": "support-agent:M10", "success": True} for r in rows if r["model"] == M0]
    m2 = [{**r, "model": "M2"} for r in rows if r["model"] == M1]               # a bare ref belongs to the default agent
    other = [{**r, "model": "other:M3"} for r in rows[:5]]
    tr = trend(m10 + rows + m2 + other, agent="support-agent", metrics=["success"])
    assert tr["version"].tolist() == [M0, M1, "M2", "support-agent:M10"] and tr["number"].tolist() == [0, 1, 2, 10]
    assert tr["mean"].iloc[-1] == 1.0 and (tr["lo"] <= tr["mean"]).all() and (tr["mean"] <= tr["hi"]).all()
    with pytest.raises(NotFound): trend(rows, agent="nobody")
    by_dict = trend({"M1": [r for r in rows if r["model"] == M1], "M0": [r for r in rows if r["model"] == M0]})
    assert by_dict["version"].unique().tolist() == ["M0", "M1"] and set(by_dict["metric"]) == set(METRICS)


def test_error_clusters_have_names_shares_and_at_most_three_examples():
    rows = _rows()
    failed = [r for r in rows if not r["success"]]
    clusters = error_clusters(rows)
    assert sum(c.size for c in clusters) == len(failed) and sum(c.share for c in clusters) == pytest.approx(1.0)
    assert {c.failure_kind for c in clusters} == {r["failure_kind"] for r in failed}
    assert [c.size for c in clusters] == sorted((c.size for c in clusters), reverse=True)
    for c in clusters:
        assert c.name.startswith({"wrong_tool": "wrong tool", "unsupported_fact": "unsupported fact"}[c.failure_kind])
        assert 1 <= len(c.examples) <= 3 and len({e.task_id for e in c.examples}) == len(c.examples)   # different tasks first
        assert sum(c.by_model.values()) == c.size and c.models == sorted(c.by_model)
        for e in c.examples:
            src = next(r for r in failed if r["trajectory_id"] == e.trajectory_id)
            assert (src["model"], src["task_id"], src["epoch"]) == (e.model, e.task_id, e.epoch)
            assert e.url == replay_url(e.trajectory_id) == f"/replay?run={e.trajectory_id}"
    assert len({c.name for c in clusters}) == len(clusters)
    for kind in ("wrong_tool", "unsupported_fact"):
        assert sum(c.size for c in clusters if c.failure_kind == kind) == sum(r["failure_kind"] == kind for r in failed)


def test_error_clusters_split_a_big_group_by_text():
    texts = {"refund": ("Please refund order A1, it broke.", "Done, refunded to your card."),
             "privacy": ("What is the email of the owner of order A2?", "Sure, it is jane@example.com.")}
    rows = [dict(model="m", task_id=f"{k}{i}", epoch=0, success=False, failure_kind="missing_refusal", question=q, answer=a,
                 trajectory_id=f"traj_{k}{i}") for i in range(4) for k, (q, a) in texts.items()]
    split = error_clusters(rows, k=2)
    assert len(split) == 2 and all(c.size == 4 and c.name.startswith("missing refusal: ") for c in split)
    assert {frozenset(t[:-1] for t in c.task_ids) for c in split} == {frozenset({"refund"}), frozenset({"privacy"})}
    assert len(error_clusters(rows[:4], k=2)) == 1                      # below min_size a failure kind stays whole
    assert error_clusters([{**r, "success": True} for r in rows]) == []


def test_whitelist_blacklist_and_side_by_side():
    outcomes = {"a": (1, 1, 1), "b": (1, 0, 1), "c": (0, 0, 0), "d": (0, 1, 0)}
    rows = [dict(model=M0, task_id=t, epoch=e, success=bool(s), answer=f"{t}{e}", trajectory_id=f"traj_{t}{e}")
            for t, ss in outcomes.items() for e, s in enumerate(ss)]
    assert whitelist(rows) == ["a"] and blacklist(rows) == ["c"]
    rows += [dict(model=M1, task_id=t, epoch=0, success=t != "a", answer="x", trajectory_id=f"traj_m1{t}") for t in outcomes]
    assert whitelist(rows, M0) == ["a"] and whitelist(rows, M1) == ["b", "c", "d"]
    assert whitelist(rows) == [] and blacklist(rows) == []              # every model, every epoch
    with pytest.raises(NotFound): whitelist(rows, "nobody")
    sbs = side_by_side(rows, "b", M0, M1)
    assert [e["success"] for e in sbs["a"]["epochs"]] == [True, False, True] and sbs["a"]["success_rate"] == pytest.approx(2/3)
    assert sbs["b"]["epochs"][0]["url"] == "/replay?run=traj_m1b" and sbs["a"]["epochs"][1]["answer"] == "b1"
    with pytest.raises(NotFound): side_by_side(rows, "zzz", M0, M1)
    with pytest.raises(NotFound): side_by_side(rows, "a", M0, "nobody")


def test_inspect_log_round_trip(tmp_path):
    from inspect_ai.log import read_eval_log
    from agentfactory.envs.loop import run_episodes
    from agentfactory.envs.spec import resolve_scenario
    sc = resolve_scenario("support-desk")
    tasks = sc.tasks("heldout", n=4, seed=1)
    trajs = run_episodes(sc.expert(), sc, tasks, max_steps=4, source="eval", model_version="expert", progress=False)
    assert all(t.success for t in trajs)
    rows = []
    for model in ("expert", "weak"):
        for e in range(2):
            for t, x in zip(tasks, trajs):
                ok = model == "expert" or (e == 0 and t is tasks[0])
                rows.append(dict(run_id="evr_x", model=model, task_id=t.id, epoch=e, level=t.level, kind=t.kind,
                                 question=t.question, success=ok, tool_accuracy=1.0 if ok else 0.0, quality=None,
                                 safe=True, hallucination=0.0, failure_kind=None if ok else "wrong_answer",
                                 answer=x.answer if ok else "No idea.", trajectory_id=x.id, seconds=0.2))
    run = {"id": "evr_x", "taskset": "sd-heldout@1", "created_at": "2025-01-01T00:00:00+00:00", "epochs": 2}
    with pytest.raises(InvalidInput, match="2 models"): to_inspect_log(run, rows, trajs, tmp_path)
    path = to_inspect_log(run, rows, trajs, tmp_path/"expert.eval", model="expert", tasks=tasks)
    log = read_eval_log(str(path))
    assert log.status == "success" and log.eval.model == "expert" and log.eval.task == "sd-heldout@1"
    assert log.eval.dataset.samples == 4 and log.eval.config.epochs == 2
    assert len(log.samples) == 8 and sorted({s.epoch for s in log.samples}) == [1, 2]       # Inspect counts epochs from 1
    assert all(s.scores["success"].value == 1.0 for s in log.samples) and "quality" not in log.samples[0].scores
    byname = {s.name: s for s in log.results.scores}
    assert byname["success"].metrics["mean"].value == 1.0 and "quality" not in byname
    s = next(s for s in log.samples if s.id == tasks[0].id and s.epoch == 1)
    assert s.input == tasks[0].question and s.target == tasks[0].expected["answer"]
    assert [m.role for m in s.messages] == [m.role for m in trajs[0].messages]
    call = next(m for m in s.messages if m.role == "assistant" and m.tool_calls).tool_calls[0]
    assert (call.function, call.arguments) == (trajs[0].tool_calls[0].function.name, trajs[0].tool_calls[0].function.arguments)
    tool = next(m for m in s.messages if m.role == "tool")
    assert tool.tool_call_id == call.id and tool.function == call.function

    paths = to_inspect_logs(run, rows, None, tmp_path/"all")                 # one log per model; no trajectories
    weak = read_eval_log(str(next(p for p in paths if "weak" in p.name)))
    assert len(paths) == 2 and weak.eval.model == "weak" and len(weak.samples) == 8
    sc_ = {x.name: x for x in weak.results.scores}["success"]
    mine = [r for r in rows if r["model"] == "weak"]
    e = clustered_estimate([float(r["success"]) for r in mine], [r["task_id"] for r in mine])
    assert sc_.metrics["mean"].value == pytest.approx(1/8) and sc_.metrics["stderr"].value == pytest.approx(e.se)
    assert [m.role for m in weak.samples[0].messages] == ["user", "assistant"]
    with pytest.raises(InvalidInput, match=".eval or .json"): to_inspect_log(run, rows, None, tmp_path/"x.txt", model="weak")
    j = to_inspect_log(run, rows, None, tmp_path/"weak.json", model="weak")
    assert len(read_eval_log(str(j)).samples) == 8


def test_plots_carry_the_tables():
    from agentfactory.evaluation.reports import level_plot, metric_plot, trend_plot
    rows = _rows()
    bars = level_plot(rows)
    assert len(bars.data) == 10 and set(bars.data["model"]) == {M0, M1}
    mp = metric_plot(rows)
    assert set(mp.data["metric"]) == {"success", "tool_accuracy", "quality (0–1)", "safety", "hallucination"}
    assert mp.data["mean"].between(0, 1).all()
    tp = trend_plot(rows, agent="support-agent", metrics=["success", "safety"])
    curves = tp.Curve if hasattr(tp, "Curve") else None
    assert "ErrorBars" in str(tp) and "Curve" in str(tp) and curves is not None
    with pytest.raises(InvalidInput): trend_plot(rows, metrics=["speed"])
