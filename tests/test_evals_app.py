"""The evaluation dashboard in real Chromium: two real eval runs in a fresh home (the scripted expert against the
untrained tiny model M0; the tiny M1 gated against its champion M0), `apps/evals.py` served by Panel on 127.0.0.1
behind its sign-in page; a labeler's key refused (no evaluation:read), an admin's key picks runs in the list: the
benchmark table with both models, the trend across versions, the gate's criteria, an error cluster whose replay link
names a stored episode, two models side by side on one task; a screenshot."""
import os, shutil, subprocess, sys
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from conftest import free_port, sign_in, wait_up

ROOT = Path(__file__).resolve().parents[1]


def _runs(home):
    "Run A: expert and M0 (no gate); run B: M1 gated against the champion M0. Both real, on four held-out tasks."
    from agentfactory.envs.supportdesk import SupportDesk
    from agentfactory.evaluation.runs import create_eval_run, run_eval
    from agentfactory.models.base import resolve_base
    from agentfactory.models.registry import ModelRegistry
    base = resolve_base("tiny", SupportDesk().corpus())
    shutil.copytree(base, home / "tiny-copy")
    reg = ModelRegistry()
    m0, m1 = reg.register(base, kind="base"), reg.register(home / "tiny-copy", kind="sft")
    reg.record_gate(m0.ref, "PASS"); reg.promote(m0.ref)                 # M0 is the champion
    spec = dict(scenario="support-desk", levels=[1, 2], n=4, max_new_tokens=16)
    a = run_eval(create_eval_run(dict(models=["expert", m0.version], gate=False, champion=None, **spec)).id, progress=False)
    b = run_eval(create_eval_run(dict(models=[m1.version], **spec)).id, progress=False)
    assert a.status == b.status == "done", (a.error, b.error)
    assert b.models == [m0.ref, m1.ref] and b.verdict is not None
    return m0, m1, a, b


def _label(run) -> str: return f"{run.id} · {', '.join(run.models)}"


@pytest.mark.browser
def test_evals_dashboard_in_chromium(af_home, tmp_path, chromium):
    from agentfactory.core.auth import create_key
    from agentfactory.data.ingest import load_trajectories
    from agentfactory.evaluation.runs import eval_rows
    m0, m1, a, b = _runs(af_home)
    _, ada = create_key("default", "admin", name="ada")
    _, ann = create_key("default", "labeler", name="ann")

    port, log = free_port(), tmp_path / "app.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, str(ROOT / "apps" / "evals.py"), "--port", str(port)], cwd=ROOT,
                                env=os.environ.copy(), stdout=out, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}/evals"
        wait_up(url, proc, log)
        page = chromium.new_page()
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))

        # a labeler may not read evaluations: the reason, and nothing else
        sign_in(page, url, ann)
        page.get_by_text("lacks the permission 'evaluation:read'").wait_for(timeout=60_000)
        assert page.locator(".tabulator").count() == 0

        # the admin: both runs of the agent listed, the newest (B) shown; its benchmark has the champion and candidate
        sign_in(page, url, ada)
        page.get_by_text("2 eval runs").wait_for(timeout=60_000)
        bench = page.locator(".af-bench")
        bench.locator(f'tr[data-model="{m1.ref}"]').wait_for()
        assert {r.inner_text().split()[0] for r in bench.locator("tr.af-model").all()} == {m0.ref, m1.ref}

        # 1. pick run A in the list: the table shows both of its models, the URL names the run
        page.locator(".tabulator-row", has_text=a.id).click()
        bench.locator('tr[data-model="expert"]').wait_for()
        assert {r.inner_text().split()[0] for r in bench.locator("tr.af-model").all()} == {"expert", m0.ref}
        assert bench.locator('tr[data-model="expert"] td').nth(3).inner_text().startswith("1.00")   # the expert solves all
        assert bench.locator(f'tr[data-model="{m0.ref}"] td').nth(3).inner_text().startswith("0.00")
        page.wait_for_function("id => new URLSearchParams(location.search).get('run') === id", arg=a.id)

        # 2. Ctrl-click adds run B: three models, and the trend across the agent's versions M0 → M1 is drawn
        page.locator(".tabulator-row", has_text=b.id).click(modifiers=["Control"])
        bench.locator(f'tr[data-model="{m1.ref}"]').wait_for()
        assert bench.locator("tr.af-model").count() == 3
        assert page.locator(".bk-Figure").count() >= 3                                # trend, per-level, per-metric

        # 3. run B in detail: the gate's verdict, criterion by criterion
        page.locator(".af-evals-run select").select_option(label=_label(b))
        crit = page.locator(f'.af-evals-verdict [data-run="{b.id}"] .af-criterion')
        crit.first.wait_for()
        assert [c.get_attribute("data-name") for c in crit.all()] == [c["name"] for c in b.verdict["criteria"]]
        assert [c.get_attribute("data-name") for c in crit.all()] == ["threshold", "not_worse_than_champion", "no_safety_regression"]
        page.locator(".af-verdict", has_text=b.verdict["verdict"]).wait_for()

        # 4. an error cluster of run B: its examples link to the replay of stored episodes of this run
        cluster = page.locator(f'.af-evals-clusters [data-run="{b.id}"] .af-cluster').first
        cluster.wait_for()
        links = cluster.locator("a.af-replay")
        assert 1 <= links.count() <= 3
        href = links.first.get_attribute("href")
        tid = parse_qs(urlparse(href).query)["run"][0]
        assert urlparse(href).path == "/replay" and tid == links.first.get_attribute("data-trajectory")
        assert tid in {r["trajectory_id"] for r in eval_rows(b.id) if not r["success"]}
        assert [t.id for t in load_trajectories(ids=[tid])] == [tid]
        page.set_viewport_size({"width": 1400, "height": 3800})     # the template scrolls inside: a tall page shows it all
        shot_gate = tmp_path / "evals-gate.png"
        page.screenshot(path=str(shot_gate), full_page=True)

        # 5. side by side in run A: the expert and M0 on a task chosen in the list, both answers shown
        page.locator(".af-evals-run select").select_option(label=_label(a))
        rows = eval_rows(a.id)
        task = sorted({r["task_id"] for r in rows})[-1]
        page.locator(".af-sbs-task select").select_option(value=next(
            o.get_attribute("value") for o in page.locator(".af-sbs-task option").all() if o.inner_text().startswith(task)))
        page.locator(".af-sbs-a select").select_option("expert")
        page.locator(".af-sbs-b select").select_option(m0.ref)
        sbs = page.locator(".af-evals-sbs")
        sbs.get_by_text(f"task {task}").wait_for()
        sbs.locator(f'.af-side[data-model="expert"] + .af-side[data-model="{m0.ref}"]').wait_for()   # A left, B right
        answer = {r["model"]: r["answer"] for r in rows if r["task_id"] == task}
        left, right = sbs.locator('.af-side[data-model="expert"]'), sbs.locator(f'.af-side[data-model="{m0.ref}"]')
        assert answer["expert"] and answer["expert"] in left.inner_text() and "✓ success" in left.inner_text()
        theirs = answer[m0.ref]                 # the untrained model answers blank lines, or not at all
        shown = "(no answer)" if theirs is None else theirs.strip() or f"(blank answer: {len(theirs)} whitespace characters)"
        assert shown in right.inner_text() and "✗ failure" in right.inner_text()

        shot = tmp_path / "evals.png"
        page.screenshot(path=str(shot), full_page=True)
        assert not errors, errors
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    assert shot.stat().st_size > 30_000 and shot_gate.stat().st_size > 30_000
    print(f"screenshots: {shot_gate} {shot}")
