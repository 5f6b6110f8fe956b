"""The import order DESIGN.md sets: core ← compute, data, models ← envs ← evaluation ← training ← runtime ← api, apps,
cli — where models sits on data (the registry reads lineage to mark models trained on deleted data) and data never
imports models or envs. Read from the exported modules' import statements (top level and inside functions alike)."""
import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "agentfactory"
RANK = {"core": 0, "compute": 1, "data": 1, "models": 1.5, "envs": 2, "evaluation": 3, "training": 4, "runtime": 5,
        "api": 6, "apps": 6, "cli": 6, "pipeline": 6}


def _imports(path: Path) -> set[str]:
    "The agentfactory subpackages a module imports."
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            if node.level == 2: found.add(mod.split(".")[0])
            elif mod.startswith("agentfactory."): found.add(mod.split(".")[1])
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("agentfactory.")}
    return found & set(RANK)


def test_every_factory_imports_only_what_lies_below_it():
    wrong = []
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(PKG)
        me = rel.parts[0] if len(rel.parts) > 1 else rel.stem
        if me not in RANK: continue
        for other in _imports(path):
            if other != me and RANK[other] >= RANK[me] and not (RANK[me] == 6 and RANK[other] == 6):
                wrong.append(f"{rel} imports {other}")
    assert not wrong, "imports against the layer order:\n" + "\n".join(wrong)
