"""The module graph stays one-directional: no two modules of bench import each other, directly or round a
loop, counting the imports made inside functions too (a lazy import is still a dependency)."""

import ast
from pathlib import Path

BENCH = Path(__file__).parent.parent / "bench"


def _module_name(path: Path) -> str:
    parts = path.relative_to(BENCH.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    modules = {_module_name(path): path for path in BENCH.rglob("*.py")}
    graph = {name: set() for name in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                targets = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
            elif isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                continue
            graph[name] |= {target for target in targets if target in modules and target != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan)."""
    index, low, stack, found = {}, {}, [], []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while not group or group[-1] != node:
                group.append(stack.pop())
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_checker_finds_a_loop():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_module_of_bench_imports_itself_round_a_loop():
    graph = import_graph()
    assert {"bench.reporting.report", "bench.reporting.html", "bench.models.zoo"} <= set(graph)
    assert cycles(graph) == []


RENDERERS = {"bench.reporting.report", "bench.reporting.html", "bench.reporting.plots", "bench.reporting.compare"}


def test_storage_holds_no_scientific_rule_and_renderers_import_no_renderer():
    graph = import_graph()
    assert not {"bench.verdicts", "bench.analysis", "bench.horizon", "bench.reporting.grid"} & graph["bench.store"]
    assert {"bench.store", "bench.verdicts"} <= graph["bench.analysis"]
    assert graph["bench.verdicts"] <= {"bench.stats"}
    for renderer in RENDERERS:
        assert not (RENDERERS - {renderer}) & graph[renderer], renderer
    assert not RENDERERS & graph["bench.reporting.grid"]


def test_the_architecture_test_sees_a_renderer_importing_another(monkeypatch):
    graph = import_graph()
    graph["bench.reporting.report"] = graph["bench.reporting.report"] | {"bench.reporting.html"}
    assert any((RENDERERS - {r}) & graph[r] for r in RENDERERS)
