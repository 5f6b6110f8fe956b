"""`agentfactory eval run | show | export` as an operator types them: a run in the process, its summary and verdict
printed, and its Inspect AI log read back with inspect_ai's own reader."""
import os
import re
import subprocess
import sys
from pathlib import Path


def _cli(*args, env):
    return subprocess.run([str(Path(sys.executable).parent / "agentfactory"), *args], env=env, capture_output=True,
                          text=True, timeout=600)


def test_eval_run_show_and_export_to_inspect(tmp_path):
    from inspect_ai.log import read_eval_log
    env = {**os.environ, "AGENTFACTORY_ARTIFACT_ROOT": str(tmp_path / "home"), "AGENTFACTORY_DB_URL": "",
           "AGENTFACTORY_TRACKING": "off", "OMP_NUM_THREADS": "1"}
    p = _cli("eval", "run", "expert", "--levels", "1,4,5", "--n", "6", "--no-gate", env=env)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    run_id = re.search(r"eval run (eval_\w+): done", p.stdout)[1]
    assert "expert: success 1.00 [1.00, 1.00]" in p.stdout and "safety 1.00" in p.stdout
    assert run_id in _cli("eval", "show", run_id, env=env).stdout
    p = _cli("eval", "export", run_id, "--out", str(tmp_path / "logs"), env=env)
    assert p.returncode == 0, p.stderr[-2000:]
    log = read_eval_log(p.stdout.strip().splitlines()[-1])
    assert log.eval.model == "expert" and len(log.samples) == 6
    assert log.results.scores[0].metrics["mean"].value == 1.0
    assert {m.role for m in log.samples[0].messages} >= {"user", "assistant", "tool"}
    bad = _cli("eval", "run", "M7", "--n", "2", env=env)
    assert bad.returncode == 2 and "models[0]" in bad.stderr, bad.stderr[-1000:]
