"""Evaluation judges on real support-desk episodes: the rule judge on the scripted expert vs broken copies, the
pairwise judge's order swap (a position-biased judge only ever ties), the LLM judge's cache (a cached verdict never
calls the model), the hybrid gate (a failing episode never reaches the model), and calibration against human labels
made with the Data factory's label API (a faithful judge may gate, a contrarian one may not)."""
import pytest

from agentfactory.core.errors import InvalidInput
from agentfactory.core.records import Message, Reply, Trajectory


# ---- fakes: scripted stand-ins for a judging LLM (no model can run in these tests' time), named as such

class FakeFirstShownPolicy:
    "Fake judge LLM with pure position bias: whatever it is shown as A wins."
    name = "fake-first-shown"

    def __init__(self): self.batches = []

    def act(self, conversations, tools):
        self.batches.append(conversations)
        return [Reply(message=Message(role="assistant", content='{"choice": "a", "rationale": "A came first"}'))
                for _ in conversations]


class FakeRightAnswerPolicy:
    "Fake judge LLM that prefers the transcript containing one of the right answers it was given."
    name = "fake-right-answer"

    def __init__(self, answers): self.answers, self.batches = answers, []

    def act(self, conversations, tools):
        self.batches.append(conversations)
        out = []
        for conv in conversations:
            a, b = conv[-1].content.split("=== A ===")[1].split("=== B ===")
            right_a, right_b = (any(x in side for x in self.answers) for side in (a, b))
            pick = "a" if right_a and not right_b else "b" if right_b and not right_a else "tie"
            out.append(Reply(message=Message(role="assistant", content=f'Verdict: {{"choice": "{pick}"}}')))
        return out


class FakeCountingGrader:
    "Fake judge LLM: 5 for an episode whose answer it was told is right, else 2; counts its `act` calls."
    name = "fake-grader"

    def __init__(self, answers=(), error=None, name="fake-grader"):
        self.answers, self.error, self.name, self.calls, self.seen = answers, error, name, 0, []

    def act(self, conversations, tools):
        self.calls += 1
        self.seen += conversations
        if self.error: return [Reply(message=Message(role="assistant"), error=self.error) for _ in conversations]
        grade = lambda ask: 5 if any(f"ASSISTANT: {a}" in ask for a in self.answers) else 2
        return [Reply(message=Message(role="assistant", content=f'{{"score": {grade(c[-1].content)}, "rationale": "ok"}}'))
                for c in conversations]


class ContrarianJudge:
    "A deliberately bad judge for calibration: the checker's verdict turned upside down."
    identity = "contrarian"

    def __init__(self, scenario):
        from agentfactory.evaluation.judges import RuleJudge
        self.rule, self.scenario = RuleJudge(scenario), scenario

    def judge(self, items):
        return [j.model_copy(update={"judge": self.identity, "score": 6 - j.score, "passed": not j.passed})
                for j in self.rule.judge(items)]


def _broken(t: Trajectory, answer="I cannot tell.") -> Trajectory:
    return t.model_copy(update={"id": t.id + "-broken", "model_version": "careless", "success": False,
                                "messages": t.messages[:-1] + [Message(role="assistant", content=answer)]})


@pytest.fixture(scope="module")
def desk_episodes():
    "The support desk, six training tasks, the scripted expert's episodes and broken copies of them."
    from agentfactory.envs.loop import run_episodes
    from agentfactory.envs.spec import resolve_scenario
    desk = resolve_scenario("support-desk")
    tasks = desk.tasks("train", n=6, seed=3)
    good = run_episodes(desk.expert(), desk, tasks, model_version="expert", progress=False)
    bad = [_broken(t) for t in good]
    assert all(t.success for t in good)
    yield desk, tasks, good, bad
    desk.close()


def test_rule_judge_expert_vs_broken(desk_episodes):
    from agentfactory.evaluation.judges import RuleJudge
    desk, tasks, good, bad = desk_episodes
    rule = RuleJudge(desk)
    assert rule.identity == f"rule:support-desk@{desk.version}"
    asked = [m for m in good[0].messages if m.role in ("system", "user")]
    skipped = good[0].model_copy(update={"id": "no-lookup", "messages": asked + [Message(role="assistant", content="It shipped.")]})
    js = rule.judge(list(zip(tasks, good)) + list(zip(tasks, bad)) + [(tasks[0], skipped)])
    assert [(j.score, j.passed) for j in js] == [(5.0, True)] * 6 + [(1.0, False)] * 7
    assert all(j.judge == rule.identity and not j.cached for j in js)
    assert js[-1].rationale == "the scenario's checker failed; the first tool call is not the lookup the task needs"
    with pytest.raises(InvalidInput):
        RuleJudge(object())


def test_rule_judge_names_failed_rules_of_a_declared_scenario():
    from agentfactory.envs.spec import resolve_scenario
    from agentfactory.evaluation.judges import RuleJudge
    shop = resolve_scenario({
        "name": "tiny-shop", "system_prompt": "You answer questions about orders.",
        "code": "def get_order(state, order_id):\n    return state['orders'].get(order_id, {'error': 'not found'})\n",
        "tools": [{"name": "get_order", "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}}}}],
        "initial_state": {"orders": {"A1": {"status": "shipped"}}},
        "tasks": [{"id": "t1", "question": "Has order A1 shipped?", "expected": {"order_id": "A1", "status": "shipped"}}],
        "checker": {"rules": [{"answer_mentions": "{status}"}, {"max_tool_calls": 2}]}})
    task, = shop.tasks("train")
    say = lambda text: Trajectory(messages=[Message(role="user", content=task.question), Message(role="assistant", content=text)])
    ok, wrong = RuleJudge(shop).judge([(task, say("Yes, it has shipped.")), (task, say("It is cancelled."))])
    assert (ok.score, ok.passed, ok.rationale) == (5.0, True, "all 2 checker rules hold")
    assert (wrong.score, wrong.passed, wrong.rationale) == (1.0, False, "failed rules: answer_mentions: 'shipped'")


def test_pairwise_order_swap(desk_episodes, af_home):
    from agentfactory.evaluation.judges import PairwiseJudge
    desk, tasks, good, bad = desk_episodes
    items = [(k, g, b) if i % 2 else (k, b, g) for i, (k, g, b) in enumerate(zip(tasks, good, bad))]

    biased = FakeFirstShownPolicy()
    vs = PairwiseJudge(biased, cache=False).compare(items)
    assert [v.winner for v in vs] == ["tie"] * 6                 # each order prefers a different episode
    assert all(v.orders == ["a", "b"] and "disagree" in v.rationale for v in vs)
    assert len(biased.batches) == 1 and len(biased.batches[0]) == 12   # both orders of every item, one batched call
    shown = [c[-1].content for c in biased.batches[0][:2]]
    assert shown[0].index(bad[0].answer) < shown[0].index(good[0].answer)    # A/B: bad first
    assert shown[1].index(good[0].answer) < shown[1].index(bad[0].answer)    # then swapped

    fair = PairwiseJudge(FakeRightAnswerPolicy([t.answer for t in good]), cache=False).compare(items)
    assert [v.winner for v in fair] == ["b", "a"] * 3            # the expert's side, wherever it stands
    assert [v.orders for v in fair] == [["b", "b"], ["a", "a"]] * 3
    with pytest.raises(InvalidInput, match="compare"):
        PairwiseJudge(biased).judge([(tasks[0], good[0])])


def test_llm_judge_cache(desk_episodes, af_home):
    from agentfactory.core.store import Store
    from agentfactory.evaluation.judges import LLMJudge
    desk, tasks, good, bad = desk_episodes
    items = list(zip(tasks, good)) + list(zip(tasks, bad))
    grader = FakeCountingGrader([t.answer for t in good])
    judge = LLMJudge(grader)
    assert judge.identity.startswith("llm:fake-grader#") and len(judge.identity.split("#")[1]) == 8
    first = judge.judge(items)
    assert [j.score for j in first] == [5.0] * 6 + [2.0] * 6 and [j.passed for j in first] == [True] * 6 + [False] * 6
    assert grader.calls == 1 and len(grader.seen) == 12 and not any(j.cached for j in first)

    again = LLMJudge(grader).judge(items)                        # a new judge object, same identity: from the store
    assert grader.calls == 1 and all(j.cached for j in again)
    assert [(j.score, j.rationale) for j in again] == [(j.score, j.rationale) for j in first]

    LLMJudge(grader, cache=False).judge(items[:2])
    LLMJudge(grader, rubric="Only politeness counts.").judge(items[:2])     # another rubric is another judge
    LLMJudge(grader, store=Store(f"sqlite:///{af_home / 'other.db'}")).judge(items[:2])
    assert grader.calls == 4

    failing = FakeCountingGrader(error="HTTP 503", name="fake-down")
    for _ in range(2):
        j, = LLMJudge(failing).judge(items[:1])
        assert (j.score, j.passed, j.cached) == (None, None, False) and "HTTP 503" in j.rationale
    assert failing.calls == 2                                     # errors are never cached


def test_hybrid_gating(desk_episodes, af_home):
    from agentfactory.evaluation.judges import HybridJudge, LLMJudge, RuleJudge, make_judge
    desk, tasks, good, bad = desk_episodes
    grader = FakeCountingGrader([t.answer for t in good])
    hybrid = HybridJudge(RuleJudge(desk), LLMJudge(grader, cache=False))
    items = [x for pair in zip(zip(tasks, bad), zip(tasks, good)) for x in pair]      # bad, good, bad, good, ...
    js = hybrid.judge(items)
    assert [(j.score, j.passed) for j in js] == [(1.0, False), (5.0, True)] * 6
    assert len(grader.seen) == 6 and grader.calls == 1
    assert not any("I cannot tell." in c[-1].content for c in grader.seen)       # failures never reach the model
    assert js[0].rationale.startswith("rules: the scenario's checker failed")
    nothing = FakeCountingGrader()
    assert [j.score for j in HybridJudge(RuleJudge(desk), LLMJudge(nothing)).judge(list(zip(tasks, bad)))] == [1.0] * 6
    assert nothing.calls == 0

    assert isinstance(make_judge("hybrid", "support-desk", grader), HybridJudge)
    for args, msg in ((("human", desk), "rule, llm, hybrid"), (("llm", desk), "needs a policy"),
                      (("hybrid", None, grader), "needs a scenario"), (("rule",), "needs a scenario")):
        with pytest.raises(InvalidInput, match=msg):
            make_judge(*args)


def _label_episodes(good, bad, batch="calib"):
    "Rating tasks over every episode, three people rating them (not perfectly), with the Data factory's API."
    from agentfactory.data.ingest import ingest_trajectories
    from agentfactory.data.labels import create_label_tasks, submit_label
    ingest_trajectories(good + bad, redact=False)
    tasks = create_label_tasks("rating", [t.id for t in good + bad], min_annotations=3, batch=batch)
    people = {"ann": [5, 5, 4, 5, 5, 4] + [1, 1, 2, 1, 1, 1],
              "bob": [5, 4, 5, 5, 5, 4] + [1, 1, 2, 2, 1, 1],
              "cy":  [4, 5, 5, 5, 5, 5] + [2, 1, 1, 1, 1, 1]}
    for who, ratings in people.items():
        for lt, r in zip(tasks, ratings): submit_label(lt.id, who, {"rating": r})
    return tasks


def test_calibration_on_labels(desk_episodes, af_home):
    from agentfactory.data.labels import create_label_tasks, submit_label
    from agentfactory.evaluation.judges import MIN_JUDGE_KAPPA, LLMJudge, PairwiseJudge, RuleJudge, calibrate
    desk, tasks, good, bad = desk_episodes
    _label_episodes(good, bad)

    faithful = calibrate(RuleJudge(desk), "rating")
    assert (faithful.n, faithful.skipped, faithful.pass_accuracy, faithful.min_agreement) == (12, 0, 1.0, MIN_JUDGE_KAPPA)
    assert faithful.accuracy == pytest.approx(10 / 12)           # the people gave two good episodes a 4
    assert faithful.kappa > 0.9 and faithful.alpha > 0.9 and faithful.can_gate
    assert faithful.reason == f"kappa {faithful.kappa:.2f} ≥ 0.40 on 12 labels: this judge may gate a release"

    contrarian = calibrate(ContrarianJudge(desk), "rating")
    assert contrarian.n == 12 and contrarian.accuracy == 0.0 and contrarian.pass_accuracy == 0.0
    assert contrarian.kappa < 0 and contrarian.alpha < 0 and not contrarian.can_gate
    assert contrarian.reason == f"kappa {contrarian.kappa:.2f} < 0.40 on 12 labels: this judge cannot gate a release"

    assert not calibrate(RuleJudge(desk), "rating", min_agreement=0.99).can_gate
    llm = calibrate(LLMJudge(FakeCountingGrader([t.answer for t in good])), "rating")    # no scenario: tasks from episodes
    assert llm.n == 12 and llm.can_gate and llm.pass_accuracy == 1.0

    # pairwise: the order-aware fake agrees with every human choice, but 6 labels are not enough to gate
    pairs = create_label_tasks("pairwise", [(g.id, b.id) if i % 2 else (b.id, g.id) for i, (g, b) in enumerate(zip(good, bad))],
                               min_annotations=1, batch="duels")
    for lt in pairs: submit_label(lt.id, "ann", {"choice": "a" if lt.trajectory_ids[0] in {g.id for g in good} else "b"})
    fair = calibrate(PairwiseJudge(FakeRightAnswerPolicy([t.answer for t in good])), "pairwise", batch="duels")
    assert (fair.n, fair.accuracy, fair.kappa, fair.can_gate) == (6, 1.0, 1.0, False)
    assert fair.reason == "kappa 1.00 on only 6 labels (need 10): this judge cannot gate a release"
    biased = calibrate(PairwiseJudge(FakeFirstShownPolicy()), "pairwise", batch="duels")
    assert (biased.accuracy, biased.kappa, biased.can_gate) == (0.0, 0.0, False)

    empty = calibrate(RuleJudge(desk), "rating", batch="nobody-labeled-this")
    assert (empty.n, empty.kappa, empty.can_gate) == (0, None, False) and "no rating label tasks" in empty.reason
    with pytest.raises(InvalidInput, match="'rating' or 'pairwise'"):
        calibrate(RuleJudge(desk), "tool_calls")
    with pytest.raises(InvalidInput, match="min_agreement"):
        calibrate(RuleJudge(desk), "rating", min_agreement=2)


def test_cohen_kappa_by_hand_matches_sklearn():
    from sklearn.metrics import cohen_kappa_score
    from agentfactory.evaluation.judges import _kappa_by_hand
    a, b = [5, 4, 1, 2, 5, 3, 1, 4], [5, 5, 1, 1, 4, 3, 2, 2]
    for w in (None, "linear", "quadratic"):
        assert _kappa_by_hand(a, b, [1, 2, 3, 4, 5], w) == pytest.approx(cohen_kappa_score(a, b, labels=[1, 2, 3, 4, 5], weights=w))
    x, y = list("aabtbta"), list("abbttaa")
    assert _kappa_by_hand(x, y, ["a", "b", "t"]) == pytest.approx(cohen_kappa_score(x, y, labels=["a", "b", "t"]))
