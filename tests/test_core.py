"Settings and store against a real SQLite file."
from pathlib import Path
from sqlalchemy import select
from agentfactory.core.settings import load_settings
from agentfactory.core.store import Store, Base
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy import String

class _Probe(Base):
    __tablename__ = "test_probe"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    payload: Mapped[dict]

def test_settings_store_roundtrip(tmp_path: Path, monkeypatch):
    (tmp_path/"settings.ini").write_text("[agentfactory]\nartifact_root = art\n")
    monkeypatch.setenv("AGENTFACTORY_GATE_MAX_ROUNDS", "3")
    s = load_settings(tmp_path/"settings.ini")
    assert s.gate_max_rounds == 3
    st = Store(s.store_url).ensure(_Probe)
    with st.session() as ses: ses.add(_Probe(id="a", payload={"k": [1, 2]}))
    # a second engine on the same file sees the committed row
    with Store(s.store_url).ensure(_Probe).session() as ses:
        assert ses.scalars(select(_Probe)).one().payload == {"k": [1, 2]}
    assert (tmp_path/"art"/"agentfactory.db").exists()
