"""Notebooks in a student copy: they run on the student's own code, unfinished tasks and all.

``release`` (``student_copy``) copies ``notebooks/`` into the student copy and puts one
setup cell at the top of each notebook, which calls :func:`skip_unfinished_tasks`. From then
on, in that kernel:

- a cell that reaches a task the student has not written yet (its stub raises
  ``NotImplementedError("<task>: implement ...")``) prints one line naming the task and the
  command that checks it, instead of a traceback, and the notebook goes on; the names the
  cell binds are put back as they were before it ran (a half-filled ``history`` list would
  only make the next cell fail in a stranger way);
- a later cell that needs a name only such a skipped cell would have defined says so in one
  line too (instead of a ``NameError``), so "Run All" reaches the end of the notebook;
- every other error is shown as usual: it is a real bug, and the student should see it.

In the instructor's tree (where every task is implemented) the setup cell changes nothing.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

from minicnn.assignments.release.manifest import read_manifest

SETUP_CELL_TAG = "minicnn-student-setup"
SETUP_CELL = """\
# Student copy: this notebook runs on YOUR minicnn. A cell that needs a task you have not
# written yet prints which one (and how to check it) instead of a traceback, and the cells
# that do not need it still run.
from minicnn.assignments.release.notebooks import skip_unfinished_tasks
skip_unfinished_tasks()"""

_RESULT = "_minicnn_cell_result"
_SAVED = "_minicnn_cell_saved"


def _task_of(error: BaseException, known) -> str | None:
    """The task id a stub's NotImplementedError names (``"<task>: ..."``), if any."""
    head = str(error).split(":", 1)[0].strip()
    return head if head in known else None


class UnfinishedTasks:
    """The state of one kernel: the tasks met so far, the names their cells did not define."""

    def __init__(self, assigned, also_stubbed, namespace):
        self.assigned = list(assigned)
        self.also_stubbed = list(also_stubbed)
        self.namespace = namespace                    # the kernel's user namespace
        self.missing_names: dict[str, str] = {}       # name -> the task its cell needed

    def snapshot(self, names) -> dict:
        """The current values of ``names`` (called before a cell runs)."""
        return {name: self.namespace[name] for name in names if name in self.namespace}

    def _roll_back(self, names, saved) -> None:
        for name in names:
            if name in saved:
                self.namespace[name] = saved[name]
            else:
                self.namespace.pop(name, None)

    def skipped(self, error: NotImplementedError, names, saved) -> None:
        """Called by a transformed cell that stopped in a stub."""
        from minicnn.assignments.registry import TASKS

        task = _task_of(error, TASKS)
        if task is None:                 # not a stub of ours: a real NotImplementedError
            raise error
        self._roll_back(names, saved)
        for name in names:
            if name not in saved:
                self.missing_names[name] = task
        print(self.message(task))

    def message(self, task: str) -> str:
        if task in self.also_stubbed and task not in self.assigned:
            return (f"[not implemented yet] this cell needs {task}, stubbed in this copy "
                    f"because it computes the answer of one of your tasks: implement it too "
                    f"(minicnn assignment check {task}); this cell was skipped")
        return (f"[not implemented yet] this cell needs {task}: write it, then run "
                f"`minicnn assignment check {task}`; this cell was skipped")

    def missing(self, error: NameError, names, saved) -> None:
        """Called by a transformed cell that used a name a skipped cell did not define."""
        name = getattr(error, "name", None)
        if name not in self.missing_names:
            raise error
        self._roll_back(names, saved)
        for other in names:
            if other not in saved:
                self.missing_names[other] = self.missing_names[name]
        task = self.missing_names[name]
        print(f"[not implemented yet] this cell needs `{name}`, which an earlier cell could "
              f"not make without {task}; this cell was skipped")


def _assigned_names(body) -> list[str]:
    """Every name a cell's top-level code binds (assignments, imports, defs, loops)."""
    names = []
    for node in ast.walk(ast.Module(body=body, type_ignores=[])):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.append(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.append(node.name)
        elif isinstance(node, ast.alias):
            names.append((node.asname or node.name).split(".")[0])
    return list(dict.fromkeys(names))


class _GuardCell(ast.NodeTransformer):
    """Wrap a cell in ``try: ... except NotImplementedError / NameError: <one line>``,
    keeping its last expression displayed as IPython would."""

    def __init__(self, state_name: str):
        self.state_name = state_name

    def visit_Module(self, module):
        body = module.body
        if not body:
            return module
        last = None
        if isinstance(body[-1], ast.Expr):
            last = body[-1]
            body = body[:-1] + [ast.Assign(targets=[ast.Name(_RESULT, ast.Store())],
                                           value=last.value)]
        names = [n for n in _assigned_names(body) if n not in (_RESULT, _SAVED)]
        name_list = ast.List([ast.Constant(n) for n in names], ast.Load())
        state = ast.Name(self.state_name, ast.Load())
        handlers = []
        for error, method in (("NotImplementedError", "skipped"), ("NameError", "missing")):
            call = ast.Expr(ast.Call(
                func=ast.Attribute(state, method, ast.Load()),
                args=[ast.Name("_minicnn_error", ast.Load()), name_list,
                      ast.Name(_SAVED, ast.Load())], keywords=[]))
            handlers.append(ast.ExceptHandler(type=ast.Name(error, ast.Load()),
                                              name="_minicnn_error", body=[call]))
        snapshot = ast.Call(func=ast.Attribute(state, "snapshot", ast.Load()),
                            args=[name_list], keywords=[])
        new_body = [ast.Assign(targets=[ast.Name(_RESULT, ast.Store())],
                               value=ast.Constant(None)),
                    ast.Assign(targets=[ast.Name(_SAVED, ast.Store())], value=snapshot),
                    ast.Try(body=body, handlers=handlers, orelse=[], finalbody=[])]
        if last is not None:
            new_body.append(ast.Expr(ast.Name(_RESULT, ast.Load())))
        module.body = new_body
        return ast.fix_missing_locations(module)


def skip_unfinished_tasks(root=None) -> UnfinishedTasks:
    """Make the running IPython kernel skip cells that need an unfinished task (see the
    module docstring). ``root``: the student copy (default: the one this minicnn is in)."""
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None:
        raise RuntimeError("skip_unfinished_tasks() works inside a Jupyter/IPython kernel")
    root = Path(root) if root is not None else Path(__file__).resolve().parents[2]
    manifest = read_manifest(root)
    state = UnfinishedTasks(manifest.get("tasks", []), manifest.get("also_stubbed", []),
                            shell.user_ns)
    state_name = "_minicnn_unfinished_tasks"
    shell.user_ns[state_name] = state
    shell.ast_transformers[:] = [t for t in shell.ast_transformers
                                 if not isinstance(t, _GuardCell)] + [_GuardCell(state_name)]
    import minicnn

    print(f"minicnn from {Path(minicnn.__file__).parent}")
    return state


def add_setup_cell(notebook: dict) -> dict:
    """The notebook (nbformat JSON) with the setup cell after its title cell."""
    cell = {"cell_type": "code", "execution_count": None, "id": SETUP_CELL_TAG,
            "metadata": {"tags": [SETUP_CELL_TAG]}, "outputs": [],
            "source": SETUP_CELL.splitlines(keepends=True)}
    cells = [c for c in notebook["cells"]
             if SETUP_CELL_TAG not in c.get("metadata", {}).get("tags", [])]
    at = 1 if cells and cells[0]["cell_type"] == "markdown" else 0
    notebook = dict(notebook)
    notebook["cells"] = cells[:at] + [cell] + cells[at:]
    return notebook


def release_notebooks(source_dir: Path, out_dir: Path) -> list:
    """Copy every notebook (and its README) from ``source_dir`` to ``out_dir``, each with
    the setup cell; returns the notebooks written."""
    written = []
    if not source_dir.is_dir():
        return written
    out_dir.mkdir(parents=True, exist_ok=True)
    for path in sorted(source_dir.glob("*.ipynb")):
        notebook = add_setup_cell(json.loads(path.read_text(encoding="utf-8")))
        target = out_dir / path.name
        target.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n",
                          encoding="utf-8")
        written.append(target)
    if (source_dir / "README.md").is_file():
        (out_dir / "README.md").write_text((source_dir / "README.md").read_text())
    return written
