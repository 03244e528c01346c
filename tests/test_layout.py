"""The shape of src/humancut (scripts/import_graph.py): no import circle, no import from a
lower layer up to a higher one, every module in a layer, no module over 400 lines and no
function over 80. The same checks on a made-up package show that each one can fail."""

from __future__ import annotations

import importlib.util
import textwrap
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def layout() -> ModuleType:
    spec = importlib.util.spec_from_file_location("import_graph",
                                                  ROOT / "scripts" / "import_graph.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_package_has_no_circle(layout):
    assert layout.circles(layout.graph()) == []


def test_every_module_has_a_layer_and_imports_only_downward(layout):
    edges = layout.graph()
    assert {"humancut", "humancut.api.service", "humancut.rayserve"} <= set(edges)
    assert layout.layer_problems(edges) == []


def test_no_module_or_function_is_too_long(layout):
    assert layout.size_problems() == []


def write(package: Path, name: str, text: str) -> None:
    path = package.joinpath(*name.split(".")).with_suffix(".py")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))


def test_each_check_finds_its_problem(layout, tmp_path):
    pkg = tmp_path / "humancut"
    write(pkg, "__init__", "")
    write(pkg, "errors", "from .api import routes\n")  # base -> api: upward
    write(pkg, "api.__init__", "")
    write(pkg, "api.routes", "from . import service\n")
    write(pkg, "api.service", "from .routes import x\n")  # a circle inside api
    write(pkg, "runner.__init__", """\
        from typing import TYPE_CHECKING
        if TYPE_CHECKING:  # annotations only: not an import at run time
            from ..store import Store
        def run():
            from ..engine import Model  # a function-level import counts; downward is fine
        """)
    write(pkg, "gadget", "x = 1\n" * 401)
    body = "".join(f"    y = {i}\n" for i in range(80))
    write(pkg, "engine", f"def long():\n{body}\ndef short():\n    pass\n")

    edges = layout.graph(pkg)
    assert edges["humancut.runner"] == {"humancut.engine"}
    assert layout.circles(edges) == [["humancut.api.routes", "humancut.api.service"]]
    assert layout.layer_problems(edges) == [
        "no layer: humancut.gadget (add it to LAYERS)",
        "upward import: humancut.errors (base) -> humancut.api.routes (api)"]
    assert layout.size_problems(pkg) == [
        "function over 80 lines: humancut/engine.py:1 long (81)",
        "module over 400 lines: humancut/gadget.py (401)"]
    assert layout.main([str(pkg)]) == 1


def test_job_and_output_share_the_options_type_from_below(layout):
    """job.py carries an Output that output.py applies: the type lives in options.py, below
    both, so job.py imports nothing of output.py, not even for its annotations."""
    import typing

    from humancut import job, options, output

    edges = layout.graph()
    assert edges["humancut.job"] == {"humancut.options"}
    assert "humancut.job" in edges["humancut.output"]
    assert "TYPE_CHECKING" not in Path(job.__file__).read_text()
    assert typing.get_type_hints(job.Job)["options"] == options.Output | None
    assert output.Output is options.Output
    assert layout.layer_of("humancut.options") == layout.layer_of("humancut.job") == 0
