"""Property-based fuzzing of the whole API with schemathesis: every operation of the app's OpenAPI schema, with valid
and invalid generated requests (its examples, coverage and fuzzing phases), against a real server over a fresh store;
any 5xx fails.

Only `not_a_server_error` is checked: schemathesis's other checks also flag behaviour that is right for this API (a
422 for a request the schema allows but the data refuses). It runs as `schemathesis run`, in a subprocess, in a
temporary directory (it writes `.hypothesis/` and `.schemathesis/` where it runs; its lazy pytest loader does not
work with pytest 9). The quick test runs 3 examples per operation; the `slow` one `AGENTFACTORY_FUZZ_EXAMPLES`
(default 15) per operation, so `make test` keeps it short and a longer hunt is
`AGENTFACTORY_FUZZ_EXAMPLES=500 pytest -m slow tests/test_schemathesis.py`."""
import json, os, re, subprocess, sys
from pathlib import Path

import pytest

from conftest import serve

FUZZ_EXAMPLES = int(os.environ.get("AGENTFACTORY_FUZZ_EXAMPLES", "15"))
CLI = Path(sys.executable).parent / "schemathesis"


@pytest.fixture(scope="module")
def live_api(tmp_path_factory, base_cache):
    "A real server over a fresh store holding a few trajectories and a dataset; its URL and an admin key."
    if not CLI.exists(): pytest.skip("schemathesis is not installed: pip install -e '.[dev]'")
    from agentfactory.core.settings import set_settings
    home = tmp_path_factory.mktemp("fuzz")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AGENTFACTORY_BASE_CACHE", str(base_cache))
        mp.setenv("AGENTFACTORY_ARTIFACT_ROOT", str(home / "artifacts"))
        mp.setenv("AGENTFACTORY_DB_URL", "")
        mp.setenv("AGENTFACTORY_TRACKING", "off")
        set_settings(None)
        import httpx
        from agentfactory.api.app import create_app
        from agentfactory.core.auth import read_admin_key
        from agentfactory.envs.loop import run_episodes
        from agentfactory.envs.supportdesk import SupportDesk
        from agentfactory.runtime.core import Runtime
        app = create_app(Runtime(ingest=False))
        key = read_admin_key()
        with SupportDesk() as desk:
            trajs = run_episodes(desk.expert(), desk, desk.tasks("train", n=3, seed=0), progress=False)
        with serve(app) as url:
            c = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=120)
            assert c.post("/trajectories", json=[json.loads(t.model_dump_json()) for t in trajs]).status_code == 200
            assert c.post("/datasets/create", json={"kind": "sft"}).status_code == 201
            yield url, key
            assert httpx.get(f"{url}/healthz").status_code == 200           # and it still serves
        set_settings(None)


REVOKE = "^/keys/[^/]+/revoke$"


def _fuzz(live_api, cwd: Path, examples: int) -> None:
    """Every operation but key revocation, then revocation alone: the fuzzer reads its own key's id from /whoami and
    revokes it (rightly: an admin may), which would turn the rest of the run into 401s."""
    url, key = live_api
    for n, which in enumerate((["--exclude-path-regex", REVOKE], ["--include-path-regex", REVOKE])):
        cmd = [str(CLI), "run", f"{url}/openapi.json", "-H", f"Authorization: Bearer {key}", *which,
               "--checks", "not_a_server_error", "--phases", "examples,coverage,fuzzing", "--max-examples", str(examples),
               "--workers", "2", "--seed", "1", "--generation-database", "none", "--generation-with-security-parameters",
               "false", "--no-color", "--request-timeout", "120", "--report", "ndjson", "--report-dir", str(cwd / f"report{n}")]
        r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=1200, env={**os.environ, "NO_COLOR": "1"})
        out = r.stdout + r.stderr
        assert r.returncode == 0, f"schemathesis found server errors (exit {r.returncode}):\n{out[-8000:]}"
        assert re.search(r"Tested: \d+", out) and "Authentication failed" not in out, out[-4000:]
        if os.environ.get("AGENTFACTORY_FUZZ_VERBOSE"): print(out[-3000:])


def test_no_operation_answers_5xx(live_api, tmp_path):
    _fuzz(live_api, tmp_path, 3)


@pytest.mark.slow
def test_no_operation_answers_5xx_longer(live_api, tmp_path):
    _fuzz(live_api, tmp_path, FUZZ_EXAMPLES)
