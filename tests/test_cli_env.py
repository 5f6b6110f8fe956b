"""`agentfactory env validate` and `env run --levels` as a scenario author types them: a good spec passes, a spec whose
answer key is wrong fails with the rule that rejected it, a spec that does not load is one line and exit code 2."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

LIBRARY = Path(__file__).resolve().parents[1] / "data" / "scenarios" / "library.yaml"


@pytest.fixture
def cli(tmp_path):
    env = {**os.environ, "AGENTFACTORY_ARTIFACT_ROOT": str(tmp_path / "home"), "AGENTFACTORY_DB_URL": "",
           "AGENTFACTORY_TRACKING": "off", "OMP_NUM_THREADS": "1"}
    return lambda *args: subprocess.run([str(Path(sys.executable).parent / "agentfactory"), *map(str, args)], env=env,
                                        capture_output=True, text=True, timeout=300)


def test_validate_library_passes_and_lists_tools_and_counts(cli):
    p = cli("env", "validate", LIBRARY)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    out = p.stdout
    assert "library-desk" in out and "tool search_catalog(query)" in out and "tool place_hold(book_id, member_id)" in out
    lines = [" ".join(c.strip() for c in line.split("│")[1:-1]) for line in out.splitlines() if line.startswith("│")]
    assert lines == ["1 author 10 6", "2 availability 10 6",                 # tasks per level × split (train, heldout)
                     "1 author 10/10 6/6", "2 availability 10/10 6/6"]       # solved by the expert
    assert "32 task(s)" in out and "expert solved 32/32" in out


def test_validate_reports_a_broken_answer_key(cli, tmp_path):
    text = LIBRARY.read_text()
    good = '{"answer": "{must_mention} wrote " + t + "."}'
    assert good in text
    spec = tmp_path / "broken.yaml"
    spec.write_text(text.replace(good, '{"answer": "Someone wrote " + t + "."}'))
    p = cli("env", "validate", spec, "--levels", "1,2", "--split", "heldout", "--show", "2")
    assert p.returncode == 1, p.stdout[-2000:] + p.stderr[-2000:]
    assert "expert solved 6/12" in p.stdout
    assert p.stdout.count("FAILED lib-author-") == 2 and "... and 4 more" in p.stdout
    assert "Someone wrote" in p.stdout and "answer_mentions" in p.stdout      # the expert's answer and the failing rule
    assert "Traceback" not in p.stderr


def test_validate_rejects_an_invalid_spec_and_bad_levels(cli, tmp_path):
    spec = tmp_path / "invalid.yaml"
    spec.write_text(LIBRARY.read_text().replace("- name: get_book", "- name: get book"))
    p = cli("env", "validate", spec)
    assert p.returncode == 2 and "tools.1.name" in p.stderr and "get book" in p.stderr, p.stderr[-2000:]
    assert "Traceback" not in p.stderr + p.stdout
    p = cli("env", "validate", LIBRARY, "--levels", "9")
    assert p.returncode == 2 and "levels are 1..5" in p.stderr, p.stderr[-2000:]


def test_env_run_filters_levels_before_drawing(cli):
    p = cli("env", "run", LIBRARY, "--levels", "2", "--n", "3")
    assert p.returncode == 0, p.stderr[-2000:]
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert out["scenario"] == "library-desk" and out["runs"] == 3 and out["success"] == 3
    p = cli("env", "run", LIBRARY, "--levels", "2", "--n", "100")          # the library has 10 level-2 training tasks (of 20)
    assert json.loads(p.stdout.strip().splitlines()[-1])["runs"] == 10, p.stderr[-2000:]
