"""The labeling app: a queue of label tasks, pairwise / rating / tool-call views, keyboard shortcuts, progress.

    panel serve apps/labeling.py                 # http://localhost:5006/labeling
    python apps/labeling.py --port 5007          # http://127.0.0.1:5007/labeling

The store is the settings' (AGENTFACTORY_ARTIFACT_ROOT, or AGENTFACTORY_DB_URL). `?annotator=<name>`,
`?kind=pairwise|rating|tool_calls` and `?batch=<name>` in the URL preset the fields.
The components live in `agentfactory.apps.labeling` (nbs/09_apps/01_labeling.ipynb)."""
from agentfactory.apps.labeling import labeling_app


def main(argv=None):
    "Serve the app with Panel's server (blocks until interrupted)."
    import argparse
    import panel as pn
    p = argparse.ArgumentParser(description="Agent Factory labeling app")
    p.add_argument("--port", type=int, default=5007)
    p.add_argument("--address", default="127.0.0.1")
    p.add_argument("--allow-websocket-origin", action="append", default=None,
                   help="host[:port] allowed to open the websocket (default: the address and localhost)")
    a = p.parse_args(argv)
    origins = a.allow_websocket_origin or [f"{a.address}:{a.port}", f"localhost:{a.port}"]
    pn.serve({"labeling": labeling_app}, port=a.port, address=a.address, websocket_origin=origins, show=False,
             title="Agent Factory · Labeling")


if __name__ == "__main__":
    main()
else:                                   # `panel serve apps/labeling.py`
    labeling_app().servable(title="Agent Factory · Labeling")
