"""The labeling app: a queue of label tasks, pairwise / rating / tool-call views, keyboard shortcuts, progress.

    panel serve apps/labeling.py                 # http://localhost:5006/labeling
    python apps/labeling.py --port 5007          # http://127.0.0.1:5007/labeling

The page asks for an API key first (the keys of the HTTP API); the key's name is the annotator, its tenant's
store is the one shown, its role decides what is offered (a labeler sees only the tasks assigned to it, a viewer
sees the open tasks read-only). The store is the settings' (AGENTFACTORY_ARTIFACT_ROOT, or AGENTFACTORY_DB_URL); on
a store without keys, `python apps/labeling.py` first writes an admin key to <artifact root>/admin.key.
`?kind=pairwise|rating|tool_calls` and `?batch=<name>` in the URL preset the filters.
The components live in `agentfactory.apps.labeling` (nbs/09_apps/01_labeling.ipynb)."""
from agentfactory.apps.core import app_main
from agentfactory.apps.labeling import labeling_app


def main(argv=None):
    "Serve the app with Panel's server (blocks until interrupted)."
    app_main(labeling_app, "labeling", "Agent Factory · Labeling", 5007, argv)


if __name__ == "__main__":
    main()
else:                                   # `panel serve apps/labeling.py`
    labeling_app().servable(title="Agent Factory · Labeling")
