"""The replay app: pick stored runs by scenario, model, source and outcome, and replay one — its messages, tool
calls with arguments and results, latency per step, reward and errors.

    panel serve apps/replay.py                 # http://localhost:5006/replay
    python apps/replay.py --port 5008          # http://127.0.0.1:5008/replay

The page asks for an API key first (the keys of the HTTP API); a key whose role may read data (viewer, researcher,
admin) sees its own tenant's runs only. The store is the settings' (AGENTFACTORY_ARTIFACT_ROOT, or
AGENTFACTORY_DB_URL); on a store without keys, `python apps/replay.py` first writes an admin key to
<artifact root>/admin.key. `?run=<id>` in the URL opens that run (choosing a run writes it there); `?scenario=`,
`?model=`, `?source=` and `?outcome=success|failure` preset the filters.
The components live in `agentfactory.apps.replay` (nbs/09_apps/02_replay.ipynb)."""
from agentfactory.apps.core import app_main
from agentfactory.apps.replay import replay_app


def main(argv=None):
    "Serve the app with Panel's server (blocks until interrupted)."
    app_main(replay_app, "replay", "Agent Factory · Replay", 5008, argv)


if __name__ == "__main__":
    main()
else:                                   # `panel serve apps/replay.py`
    replay_app().servable(title="Agent Factory · Replay")
