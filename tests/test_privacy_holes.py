"""Issue 15's privacy holes, closed: a runtime session keeps no unredacted text, a data-subject deletion erases the
subject's open sessions and nothing brings them back, and a model trained on deleted data is not deployed until it is
retrained or an admin overrides. Real SQLite stores and the real PII redactor; the served model is the support
desk's scripted expert (what is tested is what the runtime keeps, not how well a model answers)."""
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import text

import agentfactory.data.lineage as lineage
from agentfactory.core.errors import Forbidden, InvalidInput, NotFound
from agentfactory.core.records import Message, Trajectory
from agentfactory.core.store import Store
from agentfactory.data.datasets import build_dataset
from agentfactory.data.ingest import count_events, ingest_trajectories, load_trajectories
from agentfactory.data.lineage import delete_subject, deleted_records
from agentfactory.envs.loop import run_episodes
from agentfactory.envs.supportdesk import ExpertPolicy, SupportDesk
from agentfactory.runtime.core import Runtime
from agentfactory.models.registry import ModelRegistry

OFFICER = "privacy-officer@shop.example"
NAME, EMAIL = "Maria Gonzalez", "maria.gonzalez@example.com"


class ExpertRegistry(ModelRegistry):
    "The real registry, except that every version it serves is the scripted expert (nothing is trained here)."
    def load_policy(self, ref, **kw): return ExpertPolicy()


def model_folder(path: Path) -> Path:
    path.mkdir()
    (path / "config.json").write_text("{}")
    return path


def raw_bytes(db: Path) -> str:
    "The database file and its write-ahead log, as bytes read from disk."
    return b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*")).decode("utf-8", "replace")


def session_rows(st: Store) -> int:
    with st.engine.connect() as c: return c.execute(text("SELECT count(*) FROM runtime_sessions")).scalar()


@pytest.fixture
def shop(af_home):
    "A store, a registry with a deployable M0 (gate PASS), the support desk, and a runtime factory over them."
    db = af_home / "factory.db"
    st = Store(f"sqlite:///{db}")
    reg = ExpertRegistry(st)
    m0 = reg.record_gate(reg.register(model_folder(af_home / "m0"), kind="base").ref, "PASS")
    desk = SupportDesk(db_path=af_home / "shop.db")
    order = desk.tasks("heldout", n=1, seed=3)[0].expected["order_id"]
    runtime = lambda ingest=True: Runtime(st, registry=reg, scenarios={"support-desk": lambda: desk}, ingest=ingest)
    yield SimpleNamespace(db=db, store=st, registry=reg, m0=m0, desk=desk, order=order, runtime=runtime, home=af_home)
    desk.close()


def open_session(shop, ingest=True):
    rt = shop.runtime(ingest)
    a = rt.create_agent("support")
    rt.deploy(a.id, shop.m0.ref)
    return rt, a, rt.create_session(a.id)


@pytest.mark.parametrize("ingest", [True, False])
def test_a_session_keeps_no_unredacted_text(shop, ingest):
    rt, a, sess = open_session(shop, ingest)
    said = f"Hi, I'm {NAME} ({EMAIL}). Where is my order {shop.order}?"
    turn = rt.step(a.id, sess.id, said)
    # the caller gets its live turn as it happened: its own message, the tool result the answer came from
    assert turn.messages[0].content == said and turn.answer and shop.order in turn.answer
    customer = next(json.loads(m.content)["customer"] for m in turn.messages if m.role == "tool")
    people = [NAME, EMAIL, customer["name"], customer["email"]]
    assert any(p in turn.model_dump_json() for p in people)
    # the next turn starts from the redacted history and works; what is kept, served or written to disk is redacted
    second = rt.step(a.id, sess.id, f"Thanks. Once more, where is {shop.order}? It's {NAME} again.")
    assert second.turn == 2 and second.answer and shop.order in second.answer
    kept = rt.history(a.id, sess.id)
    dumped = kept.model_dump_json()
    assert not [p for p in people if p in dumped]
    assert "<PERSON>" in dumped and "<EMAIL_ADDRESS>" in dumped and shop.order in dumped and customer["id"] in dumped
    assert kept.messages[0].content == shop.desk.system_prompt and kept.turns == 2
    assert len(kept.messages) == 1 + len(turn.messages) + len(second.messages) and len(kept.steps) == 2 * len(turn.steps)
    assert not [p for p in people if p in raw_bytes(shop.db)]
    if ingest:
        stored, = load_trajectories(shop.store, ids=[sess.id])
        assert second.trajectory_id == sess.id and len(stored.messages) == len(kept.messages)


def test_deleting_a_subject_erases_their_open_session_for_good(shop):
    rt, a, sess = open_session(shop)
    rt.step(a.id, sess.id, f"This is {NAME}, {EMAIL}: where is my order {shop.order}?")
    other = rt.create_session(a.id)
    rt.step(a.id, other.id, f"Where is my order {shop.order}?")
    kept = rt.history(a.id, sess.id)
    assert load_trajectories(shop.store, ids=[sess.id]) and session_rows(shop.store) == 2

    rep = delete_subject(email=EMAIL.upper(), requested_by=OFFICER, store=shop.store)
    assert rep.trajectories == 1 and rep.erased == {"runtime_sessions": 1} and session_rows(shop.store) == 1
    assert deleted_records([sess.id, other.id], shop.store) == {sess.id: rep.id}
    for call in (lambda: rt.history(a.id, sess.id), lambda: rt.step(a.id, sess.id, "Are you still there?")):
        with pytest.raises(NotFound, match="deleted under a data-subject request"): call()
    # the next turn did not bring the conversation back, nor does a client that kept a copy of it
    assert load_trajectories(shop.store, ids=[sess.id]) == [] and count_events(shop.store, trajectory_id=sess.id) == 0
    copy = Trajectory(id=sess.id, source="runtime", scenario_id="support-desk", messages=kept.messages, steps=kept.steps)
    assert ingest_trajectories([copy], shop.store).refused == [sess.id]
    assert load_trajectories(shop.store, ids=[sess.id]) == []
    assert rt.history(a.id, other.id).turns == 1                    # someone else's session stays
    assert lineage.list_audit(shop.store)[0].erased == {"runtime_sessions": 1}          # the audit row says so


def test_a_deletion_that_ran_without_the_runtime_is_caught_up(shop, monkeypatch):
    "Deleted where the runtime's eraser was not registered: the tombstone refuses the session and erases its row."
    rt, a, sess = open_session(shop)
    rt.step(a.id, sess.id, f"This is {NAME}, {EMAIL}: where is my order {shop.order}?")
    monkeypatch.setattr(lineage, "_ERASERS", {})
    rep = delete_subject(email=EMAIL, requested_by=OFFICER, store=shop.store)
    assert rep.erased == {} and session_rows(shop.store) == 1
    with pytest.raises(NotFound, match=f"deleted under a data-subject request \\({rep.id}\\)"):
        rt.step(a.id, sess.id, "Hello again")
    assert session_rows(shop.store) == 0 and load_trajectories(shop.store, ids=[sess.id]) == []


def test_a_session_kept_out_of_data_is_erased_by_its_id(shop):
    rt, a, sess = open_session(shop, ingest=False)
    rt.step(a.id, sess.id, f"This is {NAME}: where is my order {shop.order}?")
    rep = delete_subject(session_id=sess.id, requested_by=OFFICER, store=shop.store)
    assert rep.erased == {"runtime_sessions": 1} and session_rows(shop.store) == 0
    with pytest.raises(NotFound, match="deleted under a data-subject request"): rt.history(a.id, sess.id)


def test_a_model_trained_on_deleted_data_is_not_deployed_until_retrained_or_overridden(shop):
    st, reg, desk = shop.store, shop.registry, shop.desk
    episodes = run_episodes(ExpertPolicy(), desk, desk.tasks(n=6, levels=(1,)), progress=False)
    ingest_trajectories(episodes, st)
    d1 = build_dataset("sft", store=st, tools=desk.tools)
    folder = lambda name: model_folder(shop.home / name)
    m1 = reg.record_gate(reg.register(folder("m1"), lineage={"base": shop.m0.ref, "datasets": [d1.id]}).ref, "PASS")
    m2 = reg.record_gate(reg.register(folder("m2"), lineage={"base": m1.ref}).ref, "PASS")       # trained from M1
    rt = shop.runtime()
    a = rt.create_agent("support")
    assert rt.deploy(a.id, m1.ref).model == m1.ref and m1.deleted_data == []

    customer = next(json.loads(m.content)["customer"] for m in episodes[0].messages if m.role == "tool")
    rep = delete_subject(customer_id=customer["id"], requested_by=OFFICER, store=st)
    assert [m.ref for m in rep.models_flagged] == [m1.ref]
    assert (reg.get(m1.ref).deleted_data, reg.get(m2.ref).deleted_data, reg.get(shop.m0.ref).deleted_data) == ([rep.id], [rep.id], [])
    for ref in (m1.ref, m2.ref):
        with pytest.raises(Forbidden, match=f"{rep.id} removed; retrain without the deleted data, or an admin overrides"):
            rt.deploy(a.id, ref)
        with pytest.raises(Forbidden, match="cannot be promoted"): reg.promote(ref)
    # registered after the deletion from the purged version: marked all the same
    late = reg.record_gate(reg.register(folder("m3"), lineage={"datasets": [d1.id]}).ref, "PASS")
    assert late.deleted_data == [rep.id]
    # retrained on the rebuilt version: deployable
    retrained = reg.record_gate(reg.register(folder("m4"), lineage={"datasets": [rep.datasets_created[d1.id]]}).ref, "PASS")
    assert retrained.deleted_data == [] and rt.deploy(a.id, retrained.ref).model == retrained.ref

    # an admin's override is recorded on the version: who and when
    with pytest.raises(InvalidInput, match="who overrides"): rt.deploy(a.id, m1.ref, override_deleted_data=True)
    assert rt.deploy(a.id, m1.ref, override_deleted_data=True, by="admin@shop.example").model == m1.ref
    mv = reg.get(m1.ref)
    assert mv.deleted_data == [] and [(o.deletion_id, o.by) for o in mv.deleted_data_overrides] == [(rep.id, "admin@shop.example")]
    assert mv.deleted_data_overrides[0].at is not None
    assert reg.get(m2.ref).deleted_data == []                    # trained from M1 only: the override covers it
    assert reg.get(late.ref).deleted_data == [rep.id]            # but not another version trained on the same data


def test_bulk_ingest_refuses_a_deleted_subjects_session(af_home):
    from agentfactory.core.records import Message, Trajectory
    from agentfactory.data.bulk import ingest_bulk, scan_events
    st = Store(f"sqlite:///{af_home / 'bulk.db'}")
    said = "I am Maria Gonzalez, maria.gonzalez@example.com: where is my order?"
    ingest_trajectories([Trajectory(id="sess_bulk", source="runtime", messages=[Message(role="user", content=said)],
                                    metadata={"session_id": "sess_bulk"})], st)
    rep = delete_subject(session_id="sess_bulk", requested_by=OFFICER, store=st)
    assert rep.trajectories == 1
    res = ingest_bulk([{"id": "evb1", "type": "feedback", "session_id": "sess_bulk", "payload": {"rating": 1}},
                       {"id": "evb2", "type": "feedback", "session_id": "sess_other", "payload": {"rating": 5}}], store=st)
    assert (res.events, res.refused) == (1, 1)
    assert scan_events(st, session_id="sess_bulk").collect().height == 0
