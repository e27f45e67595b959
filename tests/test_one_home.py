"""The specified model's sequence length (80) and the decision threshold (0.5) have one home each,
models.config.SPECIFIED_MAXLEN and models.config.DEFAULT_THRESHOLD: no code in app/ or models/ writes
the number itself where it means either. Other meanings of the same numbers (dropout 0.5, the 0.5 of
sigmoid(x) = (1 + tanh(x / 2)) / 2, a half-second refresh) are left alone: a number counts as a
threshold or a length by the names in the expression it is part of (a comparison, an assignment, a
fallback ``x or 80``, a keyword argument and its call's option name), or by a command-line help text
that gives it as a default."""

import ast
import re
from pathlib import Path

from models import config

ROOT = Path(__file__).resolve().parents[1]
HOMES = {"SPECIFIED_MAXLEN": 80, "DEFAULT_THRESHOLD": 0.5}
# Words that make a 0.5 the decision threshold, and an 80 the sequence length.
THRESHOLD_WORDS = ("threshold", "prob", "label")
MAXLEN_WORDS = ("maxlen", "length", "token")
CONTEXTS = (ast.Compare, ast.Assign, ast.AnnAssign, ast.AugAssign, ast.BoolOp, ast.keyword, ast.arguments,
            ast.Return)
HELP_DEFAULT = re.compile(r"\bdefault:?\s+(80|0\.5)\b")


def _words(node: ast.AST) -> str:
    """The identifiers and short strings of ``node``, lowercased, space-separated."""
    words = []
    for n in ast.walk(node):
        if isinstance(n, ast.Name):
            words.append(n.id)
        elif isinstance(n, ast.Attribute):
            words.append(n.attr)
        elif isinstance(n, (ast.arg, ast.keyword)) and n.arg:
            words.append(n.arg)
        elif isinstance(n, ast.Constant) and isinstance(n.value, str) and len(n.value) < 40:
            words.append(n.value)
    return " ".join(words).lower()


def _is_home(where: Path, node: ast.AST) -> bool:
    return (where == Path("models", "config.py") and isinstance(node, ast.Assign)
            and [getattr(t, "id", None) for t in node.targets] in ([name] for name in HOMES))


def stray_literals(root: Path) -> list[str]:
    found = []
    for path in sorted([*(root / "app").rglob("*.py"), *(root / "models").rglob("*.py")]):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
        where = path.relative_to(root)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Constant):
                continue
            value = node.value
            if isinstance(value, str):
                keyword = parents.get(node)
                if isinstance(keyword, ast.keyword) and keyword.arg == "help" and HELP_DEFAULT.search(value):
                    found.append(f"{where}:{node.lineno}: a help text gives the default as a number: {value!r}")
                continue
            if isinstance(value, bool) or value not in (80, 0.5) or (value == 80) != isinstance(value, int):
                continue
            context = parents.get(node)
            while context is not None and not isinstance(context, CONTEXTS):
                context = parents.get(context)
            if context is None or _is_home(where, context):
                continue
            words = _words(context)
            if isinstance(context, ast.keyword) and isinstance(parents.get(context), ast.Call):
                call = parents[context]
                words += " " + " ".join(str(a.value).lower() for a in call.args if isinstance(a, ast.Constant))
            meaning = THRESHOLD_WORDS if value == 0.5 else MAXLEN_WORDS
            if any(w in words for w in meaning) or (value == 80 and isinstance(context, ast.BoolOp)):
                found.append(f"{where}:{node.lineno}: {ast.unparse(context)[:100]}")
    return found


def test_the_homes_hold_the_numbers():
    assert config.SPECIFIED_MAXLEN == 80 and config.TrainingConfig().maxlen == config.SPECIFIED_MAXLEN
    assert config.DEFAULT_THRESHOLD == 0.5


def test_no_stray_maxlen_or_threshold_literals():
    assert stray_literals(ROOT) == []


def test_the_check_finds_each_form_it_looks_for(tmp_path):
    (tmp_path / "models").mkdir()
    (tmp_path / "app").mkdir()
    (tmp_path / "models" / "m.py").write_text(
        "def label_of(probability):\n"
        "    return 'positive' if probability >= 0.5 else 'negative'\n"
        "def length(info, dropout=0.5):\n"
        "    return info.maxlen or 80\n"
        "class C:\n"
        "    maxlen: int = 80\n"
        "    def __init__(self):\n"
        "        self._threshold = 0.5\n"
        "        self.half = 0.5 * (1.0 + 0.5)\n", encoding="utf-8")
    (tmp_path / "app" / "cli.py").write_text(
        "def add(p):\n"
        "    p.add_argument('--threshold', type=float, default=0.5)\n"
        "    p.add_argument('--maxlen', help='tokens per review (default: 80)')\n"
        "    p.add_argument('--dropout', type=float, default=0.5)\n", encoding="utf-8")
    found = stray_literals(tmp_path)
    assert sorted(f.split(":")[:2] for f in found) == [
        ["app/cli.py", "2"], ["app/cli.py", "3"],
        ["models/m.py", "2"], ["models/m.py", "4"], ["models/m.py", "6"], ["models/m.py", "8"]]
