"""The evaluation dashboard: pick an agent and its eval runs; the benchmark table (models × metrics with 95 %
intervals), the trend across versions, per-level and per-metric bars, the gate's verdict criterion by criterion,
error clusters whose examples open in the replay app, white/blacklists, and two models side by side on one task.

    panel serve apps/*.py                                  # http://localhost:5006/evals (links open /replay there)
    python apps/evals.py --port 5009                       # http://127.0.0.1:5009/evals
    python apps/evals.py --replay-url http://127.0.0.1:5008/replay   # where `python apps/replay.py` serves the replay

The page asks for an API key first (the keys of the HTTP API); a key whose role may read evaluations (admin,
researcher, operator, viewer: `evaluation:read`) sees its own tenant's runs only. The store is the settings'
(AGENTFACTORY_ARTIFACT_ROOT, or AGENTFACTORY_DB_URL); on a store without keys, `python apps/evals.py` first writes an
admin key to <artifact root>/admin.key. `?agent=<name>` and `?run=<id>[,<id>…]` in the URL preset the choice
(choosing writes them there). The components live in `agentfactory.apps.evals` (nbs/09_apps/03_evals.ipynb)."""
from agentfactory.apps.core import app_main
from agentfactory.apps.evals import check_replay_base, evals_app


def main(argv=None):
    "Serve the app with Panel's server (blocks until interrupted); `--replay-url` is where the replay links point."
    import argparse
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--replay-url", default="/replay")
    a, rest = p.parse_known_args(argv)
    check_replay_base(a.replay_url)     # a bad address fails here, not on every page load
    page = lambda: evals_app(replay_base=a.replay_url)      # a function: Panel builds one page per browser session
    app_main(page, "evals", "Agent Factory · Evaluation", 5009, rest)


if __name__ == "__main__":
    main()
else:                                   # `panel serve apps/evals.py`
    evals_app().servable(title="Agent Factory · Evaluation")
