"""models/ is the Qt-free core: it must never import PySide6 or pyqtgraph (nor app/)."""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = ("PySide6", "PyQt5", "PyQt6", "pyqtgraph", "app")


def test_models_source_has_no_qt_imports():
    offenders = []
    for path in (ROOT / "models").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in FORBIDDEN]
    assert offenders == []


def test_importing_every_models_module_loads_no_qt():
    modules = sorted(".".join(p.relative_to(ROOT / "models").with_suffix("").parts)
                     for p in (ROOT / "models").rglob("*.py") if p.stem != "__init__")
    code = "import sys\n" + "".join(f"import models.{m}\n" for m in modules) + \
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph', 'app')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"
