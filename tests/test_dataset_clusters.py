"The `clusters` dataset filter on real support-desk episodes: kept clusters by label or index, recorded in the stats, over HTTP too."
import json, re
from collections import Counter
from types import SimpleNamespace
import httpx
import pytest
from agentfactory.api.app import create_app
from agentfactory.core.errors import InvalidInput
from agentfactory.core.store import Store
from agentfactory.data.datasets import build_dataset, dataset_lineage, get_dataset, list_datasets
from agentfactory.data.ingest import ingest_trajectories, load_trajectories
from agentfactory.data.lineage import delete_subject
from agentfactory.envs.loop import run_episodes
from agentfactory.envs.supportdesk import SupportDesk
from agentfactory.runtime.core import Runtime
from conftest import admin_headers, serve

N = 30          # expert episodes, about a third of each task kind


@pytest.fixture
def factory(af_home):
    "30 expert episodes of the three support-desk task kinds, ingested (redacted) into a SQLite file."
    desk = SupportDesk(db_path=af_home / "shop.db")
    raw = run_episodes(desk.expert(), desk, desk.tasks("train", n=N), progress=False)
    desk.close()
    st = Store(f"sqlite:///{af_home / 'factory.db'}")
    ingest_trajectories(raw, st)
    yield SimpleNamespace(store=st, raw=raw, kind={t.id: t.metadata["kind"] for t in raw})
    st.engine.dispose()


def carrier_label(sizes: dict) -> str:
    "The label of the cluster of questions about the carrier (the labels are the clusters' top TF-IDF terms)."
    found = [name for name in sizes if "carrier" in name]
    assert len(found) == 1, sizes
    return found[0]


def test_keep_a_cluster_by_label_deterministic_and_recorded(factory):
    f = factory
    everything = build_dataset("sft", store=f.store, filters={"clusters": {"keep": [0, 1, 2], "k": 3}})
    info = everything.stats["clusters"]
    assert (info["method"], info["k"], everything.rows, sum(info["sizes"].values())) == ("embeddings", 3, N, N)
    assert info["kept"] == list(info["sizes"]) and sorted(info["sizes"].values(), reverse=True) == list(info["sizes"].values())

    label = carrier_label(info["sizes"])
    v = build_dataset("sft", store=f.store, filters={"clusters": {"keep": [label.upper()], "k": 3}})   # labels match in any case
    ids = dataset_lineage(v.id, f.store)
    kinds = Counter(f.kind[i] for i in ids)
    assert len(ids) == info["sizes"][label] == v.rows
    assert kinds["shipped_carrier"] >= 0.9 * len(ids) and kinds["shipped_carrier"] >= 0.9 * Counter(f.kind.values())["shipped_carrier"]
    assert v.stats["clusters"] == {**info, "kept": [label]} and v.filters["clusters"] == {"keep": [label.upper()], "k": 3}
    assert sorted(json.loads(r)["trajectory_id"] for r in v.jsonl_path.read_text().splitlines()) == ids

    # same inputs, same version: again, by dropping the other two clusters, and from the trajectories given in another order
    others = [name for name in info["sizes"] if name != label]
    assert build_dataset("sft", store=f.store, filters={"clusters": {"keep": [list(info["sizes"]).index(label)], "k": 3}}).id == v.id
    assert build_dataset("sft", store=f.store, filters={"clusters": {"keep": [label], "k": 3}}).id == v.id
    assert build_dataset("sft", store=f.store, filters={"clusters": {"drop": others, "k": 3}}).id == v.id
    assert build_dataset("sft", load_trajectories(f.store)[::-1], store=f.store, filters={"clusters": {"keep": [label], "k": 3}}).id == v.id
    auto = build_dataset("sft", store=f.store, filters={"clusters": [label, label]})     # a bare list: keep; k by silhouette
    assert auto.id == v.id                                                # silhouette picks 3 here too (measured)
    # the cluster filter runs on what the other filters kept
    ev = build_dataset("eval", store=f.store, filters={"success": True, "clusters": {"keep": [label], "k": 3}})
    assert set(dataset_lineage(ev.id, f.store)) <= set(ids)


def test_bad_cluster_filters_say_what_to_fix(factory):
    f = factory
    with pytest.raises(InvalidInput) as e:
        build_dataset("sft", store=f.store, filters={"clusters": {"keep": ["billing address"], "k": 3}})
    msg = str(e.value)
    assert "no cluster 'billing address'" in msg and "form 3 clusters (embeddings)" in msg
    sizes = build_dataset("sft", store=f.store, filters={"clusters": {"keep": [0], "k": 3}}).stats["clusters"]["sizes"]
    assert all(f"{i}: {name!r} ({n})" in msg for i, (name, n) in enumerate(sizes.items()))   # every label, with its size
    with pytest.raises(InvalidInput, match="no cluster 3"):
        build_dataset("sft", store=f.store, filters={"clusters": {"keep": [3], "k": 3}})
    for bad, says in [({"k": 3}, "exactly one of 'keep'"), ({"keep": [0], "drop": [1]}, "exactly one of 'keep'"),
                      ({"keep": []}, "must list clusters"), ({"keep": [True]}, "must list clusters"),
                      ({"keep": [" "]}, "must list clusters"), ({"keep": [0], "n": 3}, "unknown options ['n']"),
                      ({"keep": [0], "k": 0}, "'k' must be an integer"), ({"keep": [0], "method": "bert"}, "'method' must be"),
                      ("refund", "must be an object")]:
        with pytest.raises(InvalidInput, match=re.escape(says)): build_dataset("sft", store=f.store, filters={"clusters": bad})
    with pytest.raises(InvalidInput, match=f"k must be between 1 and {N}"):
        build_dataset("sft", store=f.store, filters={"clusters": {"keep": [0], "k": N + 1}})
    assert len(list_datasets(f.store)) == 1                               # only the good build stored anything


def test_datasets_create_over_http(factory):
    f = factory
    with serve(create_app(Runtime(f.store, ingest=False))) as url, httpx.Client(base_url=url, timeout=120, headers=admin_headers()) as c:
        # a label that is not there: 422 with the labels there are, each with its index and size
        bad = c.post("/datasets/create", json={"kind": "sft", "clusters": {"keep": ["billing"], "k": 3, "method": "tfidf"}})
        assert bad.status_code == 422 and "no cluster 'billing'; the 30 trajectories form 3 clusters (tfidf)" in bad.json()["detail"]
        listed = re.findall(r"(\d+): '([^']*)' \((\d+)\)", bad.json()["detail"])
        sizes = {name: int(n) for _, name, n in listed}
        assert [int(i) for i, *_ in listed] == [0, 1, 2] and sum(sizes.values()) == N
        label = carrier_label(sizes)
        body = {"kind": "sft", "success": True, "clusters": {"keep": [label], "k": 3, "method": "tfidf"}}
        made = c.post("/data/datasets/create", json=body)
        assert made.status_code == 201, made.text
        d = made.json()
        assert d["rows"] == sizes[label] and d["stats"]["clusters"] == {"method": "tfidf", "k": 3, "sizes": sizes, "kept": [label]}
        again = c.post("/datasets/create", json=body)
        assert (again.status_code, again.json()["id"], again.json()["hash"]) == (200, d["id"], d["hash"])
        got = c.get(f"/datasets/{d['id']}").json()
        assert got["stats"]["clusters"]["kept"] == [label] and got["filters"]["clusters"]["keep"] == [label]
        lineage = c.get(f"/datasets/{d['id']}/lineage").json()["trajectory_ids"]
        assert len(lineage) == d["rows"] and Counter(f.kind[i] for i in lineage).most_common(1)[0][0] == "shipped_carrier"

        shape = c.post("/datasets/create", json={"kind": "sft", "clusters": {"k": 3}})
        assert shape.status_code == 422 and "exactly one of 'keep'" in shape.json()["detail"]
        assert c.post("/datasets/create", json={"kind": "sft", "clusters": 3}).status_code == 422
        assert [v["id"] for v in c.get("/datasets").json()] == [d["id"]]


def test_a_deletion_rebuilds_a_clustered_version_without_clustering_again(factory):
    f = factory
    label = carrier_label(build_dataset("sft", store=f.store, filters={"clusters": {"keep": [0], "k": 3}}).stats["clusters"]["sizes"])
    v = build_dataset("sft", store=f.store, filters={"clusters": {"keep": [label], "k": 3}})
    ids = dataset_lineage(v.id, f.store)
    tool = next(m.content for t in f.raw if t.id == ids[0] for m in t.messages if m.role == "tool")
    customer = json.loads(tool)["customer"]["id"]
    victims = {t.id for t in f.raw if any(m.role == "tool" and f'"{customer}"' in (m.content or "") for m in t.messages)}
    rep = delete_subject(customer_id=customer, requested_by="privacy@shop.example", store=f.store)
    new = rep.datasets_created[v.id]
    assert new is not None and dataset_lineage(new, f.store) == sorted(set(ids) - victims)   # the same choice, minus the subject
    assert get_dataset(new, f.store).filters == {k: x for k, x in v.filters.items() if k != "clusters"}
