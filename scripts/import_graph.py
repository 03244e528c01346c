"""The shape of src/humancut, checked (tests/test_layout.py runs the same checks):

- its import graph (module-level and function-level imports alike, not those under
  TYPE_CHECKING) has no circle (strongly connected set of modules);
- no module imports one of a higher layer (LAYERS, lowest first; DEVELOPERS.md, "How a
  request flows", walks them), and every module has a layer;
- no module is over MAX_MODULE_LINES lines, no function over MAX_FUNCTION_LINES.

    .venv/bin/python scripts/import_graph.py [--edges] [path/to/src/humancut]

prints what it finds and exits 1 on any finding; `--edges` prints every import too; a path
names another checkout's src/humancut."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "humancut"
MAX_MODULE_LINES, MAX_FUNCTION_LINES = 400, 80

# Lowest first. A module may import its own layer and those below; an entry names a module
# and, but for the package itself, everything under it.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("base", ("errors", "settings", "presets", "options", "job", "png", "metrics", "imageops",
              "output", "bands", "memory", "videometrics")),
    ("engine", ("engine",)),
    ("remover", ("remover",)),
    ("video", ("video", "")),  # "": humancut/__init__.py, the library's front door
    # raycluster: only starting or joining Ray; rayvideo: a clip's chunks as Ray tasks
    ("runner", ("runner", "raycluster", "rayvideo")),
    ("store", ("store", "admin")),  # admin: the operator's actions on the key store
    ("api", ("api",)),
    ("tools", ("rayserve", "raybulk", "batch", "location", "evaluate", "videoeval", "bench")),
    ("cli", ("cli", "web")),  # web: the trial page's static files and code samples
]


def module_name(path: Path, package: Path = PACKAGE) -> str:
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node but those under `if TYPE_CHECKING:` (imports for annotations only)."""
    found, todo = [], [tree]
    while todo:
        node = todo.pop()
        found.append(node)
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING":
            todo += node.orelse
            continue
        todo += ast.iter_child_nodes(node)
    return found


def imports(path: Path, modules: set[str], package: Path = PACKAGE) -> set[str]:
    """The humancut modules `path` imports (`from . import x` counts x when it is a module)."""
    name = module_name(path, package)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in runtime_nodes(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([base] if base else []))
            named = {f"{base}.{a.name}" for a in node.names}
            # `from . import png` imports the module png, not (only) the package's names.
            found |= named if named <= modules else {base} | named
    return {m for m in found if m in modules and m != name}


def graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    paths = sorted(package.rglob("*.py"))
    modules = {module_name(p, package) for p in paths}
    return {module_name(p, package): imports(p, modules, package) for p in paths}


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components of more than one module (or a self-loop)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 or v in edges[v]:
                found.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def layer_of(module: str) -> int | None:
    """The index in LAYERS of `module` (the longest entry that names it), None if none."""
    rest = module.partition(".")[2]  # the name inside the package; "" for the package
    best, best_len = None, -1
    for i, (_, entries) in enumerate(LAYERS):
        for entry in entries:
            if (rest == entry or (entry and rest.startswith(entry + "."))) and \
                    len(entry) > best_len:
                best, best_len = i, len(entry)
    return best


def layer_problems(edges: dict[str, set[str]]) -> list[str]:
    """A module without a layer, and each import from a lower layer up to a higher one."""
    found = [f"no layer: {m} (add it to LAYERS)" for m in sorted(edges)
             if layer_of(m) is None]
    for m in sorted(edges):
        low = layer_of(m)
        for target in sorted(edges[m]):
            high = layer_of(target)
            if low is not None and high is not None and high > low:
                found.append(f"upward import: {m} ({LAYERS[low][0]}) -> {target} "
                             f"({LAYERS[high][0]})")
    return found


def size_problems(package: Path = PACKAGE) -> list[str]:
    """Each module over MAX_MODULE_LINES lines and function over MAX_FUNCTION_LINES."""
    found = []
    for path in sorted(package.rglob("*.py")):
        text = path.read_text()
        where = path.relative_to(package.parent)
        if (lines := len(text.splitlines())) > MAX_MODULE_LINES:
            found.append(f"module over {MAX_MODULE_LINES} lines: {where} ({lines})")
        for node in ast.walk(ast.parse(text, str(path))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    found.append(f"function over {MAX_FUNCTION_LINES} lines: "
                                 f"{where}:{node.lineno} {node.name} ({lines})")
    return found


def main(argv: list[str]) -> int:
    paths = [a for a in argv if not a.startswith("-")]
    package = Path(paths[-1]).resolve() if paths else PACKAGE
    edges = graph(package)
    if "--edges" in argv:
        for v in sorted(edges):
            print(v, "->", ", ".join(sorted(edges[v])))
    found = circles(edges)
    print(f"{len(edges)} modules, {sum(map(len, edges.values()))} imports, "
          f"{len(found)} circle(s)")
    problems = [f"circle: {' <-> '.join(c)}" for c in found]
    problems += layer_problems(edges) + size_problems(package)
    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
