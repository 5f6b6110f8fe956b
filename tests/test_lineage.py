"Lineage both ways and data-subject deletion, on real support-desk episodes ingested into a real SQLite file."
import json, sqlite3
from pathlib import Path
from types import SimpleNamespace
import pytest
from fastapi.testclient import TestClient
from agentfactory.api.app import create_app
from agentfactory.core.errors import InvalidInput, NotFound
from agentfactory.core.store import Store
from agentfactory.data.datasets import build_dataset, dataset_lineage, get_dataset
from agentfactory.data.ingest import count_events, ingest_trajectories, load_events, load_trajectories
from agentfactory.data.labels import create_label_tasks, labels_of_trajectories, submit_label
from agentfactory.data.lineage import (delete_subject, lineage_of_row, list_audit, purge_audit, trace, usage_of_event)
from agentfactory.envs.loop import run_episodes
from agentfactory.envs.supportdesk import SupportDesk
from agentfactory.runtime.core import Runtime
from agentfactory.models.registry import ModelRegistry
from agentfactory.training.jobs import create_job

OFFICER = "privacy-officer@shop.example"


def customer_of(traj) -> dict:
    "The customer a get_order result showed the agent, before redaction."
    return next(json.loads(m.content)["customer"] for m in traj.messages if m.role == "tool")


def raw_bytes(db: Path) -> str:
    "The database file and its write-ahead log, as bytes read from disk."
    return b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*")).decode("utf-8", "replace")


def model_folder(path: Path) -> Path:
    "A folder the registry and the job queue accept as a model (registration records lineage; nothing is trained here)."
    path.mkdir()
    (path / "config.json").write_text("{}")
    return path


@pytest.fixture
def factory(af_home):
    "12 expert episodes ingested; D1 (SFT) and D2 (RL) built from them; M0 registered as trained on D1, M1 via a job on D2."
    desk = SupportDesk(db_path=af_home / "shop.db")
    raw = run_episodes(desk.expert(), desk, desk.tasks(n=12, levels=(1,)), progress=False)
    desk.close()
    db = af_home / "factory.db"
    st = Store(f"sqlite:///{db}")
    ingest_trajectories(raw, st)
    d1 = build_dataset("sft", store=st, tools=desk.tools)
    d2 = build_dataset("rl", store=st, tools=desk.tools)
    reg = ModelRegistry(st)
    m0 = reg.register(model_folder(af_home / "m0"), kind="sft", lineage={"base": "base", "datasets": [d1.id]})
    job = create_job(dict(model_base=str(model_folder(af_home / "base")), dataset_ref=d2.id, algorithm="grpo"), store=st)
    m1 = reg.register(model_folder(af_home / "m1"), kind="sft", lineage={"base": "base", "job": job.id})
    return SimpleNamespace(store=st, db=db, raw=raw, desk=desk, d1=d1, d2=d2, m0=m0, m1=m1, job=job)


def victims_of(f, customer: dict) -> list[str]:
    return sorted(t.id for t in f.raw if customer_of(t)["id"] == customer["id"])


def test_lineage_both_ways(factory):
    f = factory
    t = f.raw[0]
    task, = create_label_tasks("rating", [t.id], store=f.store)
    submit_label(task.id, "ana", {"rating": 4}, store=f.store)
    i = sorted(x.id for x in f.raw).index(t.id)          # rows are stored in trajectory-id order
    row = lineage_of_row(f.d1.id, i, f.store)
    assert (row.trajectory_id, row.scenario_id, row.scenario_version) == (t.id, "support-desk", f.desk.version)
    assert (row.task_id, row.agent_version, row.source, row.labelers) == (t.task_id, "expert", "rollout", ["ana"])
    assert lineage_of_row(f.d1.id, (i + 1) % len(f.raw), f.store).labelers == []
    stored = load_events(f.store, trajectory_id=t.id)
    assert [e.id for e in row.events] == [e.id for e in stored] and len(stored) == 5
    assert trace(f"{f.d1.id}:{i}", f.store) == row

    for e in stored:                                       # every event of the row leads back to the same row
        use = usage_of_event(e.id, f.store)
        assert use.trajectory_id == t.id
        assert {d.id: d.row for d in use.datasets}[f.d1.id] == i
        assert {d.id for d in use.datasets} == {f.d1.id, f.d2.id}
        assert use.jobs == [f.job.id]
        assert {m.ref: m.datasets for m in use.models} == {f.m0.ref: [f.d1.id], f.m1.ref: [f.d2.id]}
    assert trace(stored[0].id, f.store) == usage_of_event(stored[0].id, f.store)

    with pytest.raises(NotFound, match="no row 99"): lineage_of_row(f.d1.id, 99, f.store)
    with pytest.raises(NotFound, match="not found"): trace("traj_nope:1:agent_action", f.store)
    with pytest.raises(NotFound): lineage_of_row("D99", 0, f.store)


def test_delete_subject_by_customer_id(factory):
    f = factory
    customer = customer_of(f.raw[0])
    victims = victims_of(f, customer)
    n_events = sum(count_events(f.store, trajectory_id=v) for v in victims)
    rest = sorted(set(dataset_lineage(f.d1.id, f.store)) - set(victims))
    assert customer["id"] in raw_bytes(f.db)              # ids survive redaction: the deletion must remove them
    task, = create_label_tasks("rating", victims[:1], store=f.store)
    submit_label(task.id, "ana", {"rating": 5}, store=f.store)

    rep = delete_subject(customer_id=customer["id"], requested_by=OFFICER, store=f.store)
    assert (rep.trajectories, rep.events, rep.labels) == (len(victims), n_events, 1)
    assert labels_of_trajectories(victims, f.store) == []
    assert load_trajectories(f.store, ids=victims) == []
    assert all(count_events(f.store, trajectory_id=v) == 0 for v in victims)

    # every version that held them is rebuilt without them, same kind and tools; the old files are gone
    assert rep.datasets_purged == [f.d1.id, f.d2.id]
    new1, new2 = rep.datasets_created[f.d1.id], rep.datasets_created[f.d2.id]
    assert dataset_lineage(new1, f.store) == rest
    assert not set(victims) & set(dataset_lineage(new2, f.store))
    v1 = get_dataset(new1, f.store)
    assert (v1.kind, get_dataset(new2, f.store).kind, v1.rows) == ("sft", "rl", len(rest))
    rows = [json.loads(l) for l in v1.jsonl_path.read_text().splitlines()]
    assert all(json.loads(r["tools"]) == f.desk.tools for r in rows)
    for old in (f.d1, f.d2):
        assert not old.parquet_path.exists() and not old.jsonl_path.exists()
        assert get_dataset(old.id, f.store).id == old.id          # the row stays: D1 still means D1
        with pytest.raises(NotFound, match=f"purged .* its other rows are in D"): lineage_of_row(old.id, 0, f.store)
    assert sorted(rep.files_purged) == sorted(str(p) for d in (f.d1, f.d2) for p in (d.parquet_path, d.jsonl_path))

    # models trained on the purged versions are flagged, not deleted
    assert {m.ref for m in rep.models_flagged} == {f.m0.ref, f.m1.ref}
    assert len(ModelRegistry(f.store).list()) == 2

    # the remaining data still traces both ways, to the new versions
    e = load_events(f.store, trajectory_id=rest[0])[0]
    use = usage_of_event(e.id, f.store)
    by_id = {d.id: d for d in use.datasets}
    assert by_id[f.d1.id].superseded_by == new1 and by_id[f.d1.id].row is None
    assert by_id[new1].row == 0 and lineage_of_row(new1, 0, f.store).trajectory_id == rest[0]

    # the audit row names who and what, never the subject in clear
    audit, = list_audit(f.store)
    assert (audit.id, audit.requested_by, audit.datasets_created) == (rep.id, OFFICER, rep.datasets_created)
    dumped = audit.model_dump_json()
    for secret in (customer["id"], customer["email"], customer["name"]):
        assert secret not in dumped
    # …nor does anything else on disk any more (SQLite secure_delete, WAL truncated)
    on_disk = raw_bytes(f.db)
    assert customer["email"] not in on_disk and customer["id"] not in on_disk

    again = delete_subject(customer_id=customer["id"], requested_by=OFFICER, store=f.store)
    assert (again.trajectories, again.events, again.datasets_purged, again.models_flagged) == (0, 0, [], [])
    assert [a.id for a in list_audit(f.store)] == [again.id, rep.id]


def test_delete_subject_by_email(factory):
    f = factory
    customer = customer_of(f.raw[-1])
    victims = victims_of(f, customer)
    rep = delete_subject(email=customer["email"].upper(), requested_by=OFFICER, store=f.store)   # as the requester writes it
    assert rep.trajectories == len(victims) and load_trajectories(f.store, ids=victims) == []
    assert rep.datasets_purged == [f.d1.id, f.d2.id]
    assert customer["email"].lower() not in list_audit(f.store)[0].model_dump_json().lower()
    unknown = delete_subject(email="nobody@example.com", name="Nobody Atall", requested_by=OFFICER, store=f.store)
    assert (unknown.trajectories, unknown.events) == (0, 0)


def test_selectors_and_retention(factory):
    f = factory
    with pytest.raises(InvalidInput, match="name the data subject"): delete_subject(requested_by=OFFICER, store=f.store)
    with pytest.raises(InvalidInput, match="name the data subject"):
        delete_subject(email="", customer_id="  ", requested_by=OFFICER, store=f.store)
    with pytest.raises(InvalidInput, match="requested_by"): delete_subject(customer_id="C1001", requested_by=" ", store=f.store)
    assert len(load_trajectories(f.store)) == len(f.raw)             # nothing was deleted
    with pytest.raises(InvalidInput, match="365"): purge_audit(364, f.store)
    delete_subject(customer_id="C9999", requested_by=OFFICER, store=f.store)
    assert purge_audit(365, f.store) == 0 and len(list_audit(f.store)) == 1


def test_http(factory):
    f = factory
    app = create_app(Runtime(f.store, ingest=False))
    from agentfactory.core.auth import create_key
    c = TestClient(app, headers={"X-API-Key": create_key("default", "admin", store=app.state.platform.store)[1]})
    row = c.get(f"/lineage/datasets/{f.d1.id}/rows/0").json()
    assert row["trajectory_id"] == sorted(t.id for t in f.raw)[0]
    use = c.get(f"/lineage/events/{row['events'][0]['id']}").json()
    assert {m["ref"] for m in use["models"]} == {f.m0.ref, f.m1.ref}
    assert c.get("/lineage", params={"ref": f"{f.d1.id}:0"}).json() == row
    assert c.get(f"/lineage/datasets/{f.d1.id}/rows/-1").status_code == 422

    r = c.post("/subjects/delete", json={"requested_by": OFFICER})
    assert r.status_code == 422 and "name the data subject" in r.json()["detail"]
    assert c.post("/subjects/delete", json={"email": "", "requested_by": OFFICER}).status_code == 422
    assert c.post("/subjects/delete", json={"customer_id": "C1001"}).status_code == 422          # who asks is required
    customer = customer_of(f.raw[0])
    r = c.post("/subjects/delete", json={"customer_id": customer["id"], "requested_by": OFFICER})
    assert r.status_code == 200 and r.json()["trajectories"] == len(victims_of(f, customer))
    assert c.get(f"/lineage/datasets/{f.d1.id}/rows/0").status_code == 404
    audit = c.get("/subjects/deletions").json()
    assert [a["id"] for a in audit] == [r.json()["id"]] and customer["id"] not in json.dumps(audit)


def test_an_interrupted_purge_is_finished_by_the_next_deletion(factory, monkeypatch):
    import agentfactory.data.lineage as lineage
    f = factory
    remove = lineage._remove_files
    monkeypatch.setattr(lineage, "_remove_files", lambda paths: [])        # the process dies right after the commit
    delete_subject(customer_id=customer_of(f.raw[0])["id"], requested_by=OFFICER, store=f.store)
    assert f.d1.parquet_path.exists() and f.d2.jsonl_path.exists()         # purged in the store, files still on disk
    monkeypatch.setattr(lineage, "_remove_files", remove)
    delete_subject(customer_id="C0000", requested_by=OFFICER, store=f.store)
    for old in (f.d1, f.d2): assert not old.parquet_path.exists() and not old.jsonl_path.exists()
