"""The tasks of the minicnn assignment: what each covers, its points, and how it is checked.

A task covers one or more *solution regions*: the lines between ``# BEGIN SOLUTION`` and
``# END SOLUTION`` inside a named function of a source file. ``verify_regions()`` checks that
every registered region exists (and that no marked region is left unregistered), so the
registry cannot silently drift from the code; the test suite calls it.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from minicnn.assignments.checks.conv import Conv2dTask
from minicnn.assignments.checks.elementwise import DropoutTask, LinearTask, ReluTask
from minicnn.assignments.checks.explain import ExplainTask
from minicnn.assignments.checks.loss import CrossEntropyTask
from minicnn.assignments.checks.norm import BatchNormTask
from minicnn.assignments.checks.optim import OptimizerTask
from minicnn.assignments.checks.pool import PoolTask
from minicnn.assignments.checks.residual import ResidualBlockTask
from minicnn.assignments.regions import RegionError, find_regions, function_body_span

PACKAGE_DIR = Path(__file__).resolve().parent.parent          # .../minicnn
SOURCE_ROOT = PACKAGE_DIR.parent                             # the directory that holds minicnn/


@dataclass(frozen=True)
class Task:
    id: str
    points: int
    description: str
    regions: tuple          # ((path relative to the source root, function name), ...)
    spec: object            # a checks.base.TaskSpec
    requires: tuple = ()    # tasks whose code this one's public checks also run
    strips: tuple = ()      # ((path, function), ...): helpers that are solutions in disguise
    #                         (a Numba kernel, a NumPy twin), stripped whole from a release
    strip_callers: tuple = ()   # functions outside the regions allowed to call them

    @property
    def files(self) -> tuple:
        return tuple(sorted({path for path, _ in self.regions}))

    @property
    def functions(self) -> tuple:
        return tuple(function for _, function in self.regions)


F = "minicnn/functional/"
K = "minicnn/kernels/"
E = "minicnn/fast/"              # the engine
EK = "minicnn/fast/kernels/"


def _strip(path, *functions):
    return tuple((path, f) for f in functions)


# The engine's paths compute a task's answer another way, so a release of the task strips
# them. The engine offers them to the lecture in one function, which may call them.
_ENGINE_REGISTRATION = ("_register_engine",)

# The fast convolution paths (stripped with every conv task of their direction, together
# with the loop kernels and the Numba im2col/col2im).
# The direct sum: its kernels compute the forward pass and both gradients, so the whole method
# goes with every conv task, forward or backward.
_CONV_DIRECT = (_strip(E + "conv/direct.py", "conv2d_direct_forward", "conv2d_direct_backward",
                       "_backward_part", "_phase_products")
                + _strip(EK + "conv_direct.py", "correlate_3x3", "correlate_3x3_numpy",
                         "weight_gradient_3x3", "weight_gradient_3x3_numpy",
                         "input_gradient_3x3_stride2", "input_gradient_3x3_stride2_numpy")
                + _strip(EK + "conv_direct_5x5.py", "correlate_5x5", "correlate_5x5_numpy",
                         "weight_gradient_5x5", "weight_gradient_5x5_numpy"))
_CONV_FAST_FORWARD = (_strip(E + "conv/__init__.py", "conv2d_fast_forward")
                      + _strip(E + "conv/gemm.py", "conv2d_gemm_forward")
                      + _strip(E + "conv/im2col.py", "conv2d_im2col_forward")
                      + _strip(E + "conv/winograd.py", "conv2d_winograd_forward")
                      + _strip(E + "conv/pointwise.py", "conv2d_pointwise_forward")
                      + _strip(K + "conv.py", "im2col", "im2col_numpy")
                      + _CONV_DIRECT)
_CONV_FAST_BACKWARD = (_strip(E + "conv/__init__.py", "conv2d_fast_backward")
                       + _strip(E + "conv/gemm.py", "conv2d_gemm_backward")
                       + _strip(E + "conv/im2col.py", "conv2d_im2col_backward")
                       + _strip(E + "conv/winograd.py", "conv2d_winograd_backward")
                       + _strip(E + "conv/pointwise.py", "conv2d_pointwise_backward")
                       + _strip(K + "conv.py", "col2im", "col2im_numpy")
                       + _CONV_DIRECT)
# conv2d_forward and conv2d_backward dispatch to the methods (the loop method through
# _loop_forward/_loop_backward, method "fast" through the engine's conv2d_fast_*); a student
# copy defaults to im2col (release._default_conv_method), so they reach a stripped one only
# when asked by name.
_CONV_DISPATCH = ("conv2d_forward", "conv2d_backward", "_loop_forward", "_loop_backward",
                  "conv2d_fast_forward", "conv2d_fast_backward") + _ENGINE_REGISTRATION
_CONV_LOOP_FORWARD = _strip(K + "conv.py", "conv2d_loop_forward", "conv2d_loop_forward_numpy")
_CONV_LOOP_BACKWARD = _strip(K + "conv.py", "conv2d_loop_backward_input",
                             "conv2d_loop_backward_input_numpy", "conv2d_loop_backward_weight",
                             "conv2d_loop_backward_weight_numpy")


def _tasks() -> list[Task]:
    return [
        Task("relu_forward", 2, "ReLU forward: max(0, x), dtype kept",
             ((F + "activation.py", "relu_forward"),), ReluTask("relu_forward", "forward"),
             strips=_strip(E + "activation.py", "relu_forward_fused")
             + _strip(EK + "elementwise.py", "relu_forward_kernel", "_relu_forward_flat",
                      "relu_forward_numpy"), strip_callers=_ENGINE_REGISTRATION),
        Task("relu_backward", 3, "ReLU backward: dout where x > 0",
             ((F + "activation.py", "relu_backward"),),
             ReluTask("relu_backward", "backward"), ("relu_forward",),
             strips=_strip(E + "activation.py", "relu_backward_fused")
             + _strip(EK + "elementwise.py", "relu_backward_kernel", "_relu_backward_flat",
                      "relu_backward_numpy"), strip_callers=_ENGINE_REGISTRATION),
        Task("linear_forward", 3, "Linear forward: x W^T + b",
             ((F + "linear.py", "linear_forward"),),
             LinearTask("linear_forward", "forward")),
        Task("linear_backward", 5, "Linear backward: dx, dW, db",
             ((F + "linear.py", "linear_backward"),),
             LinearTask("linear_backward", "backward"), ("linear_forward",)),
        Task("conv2d_forward", 10,
             "Convolution forward with loops (method='naive'): the lecture's sum, with stride",
             ((F + "conv.py", "_conv2d_naive_forward"),),
             Conv2dTask("conv2d_forward", "forward", "naive"),
             strips=_CONV_LOOP_FORWARD + _CONV_FAST_FORWARD, strip_callers=_CONV_DISPATCH),
        Task("conv2d_backward", 15,
             "Convolution backward with loops (method='naive'): dx_pad, dW, db; "
             "overlapping windows add up",
             ((F + "conv.py", "_conv2d_naive_backward"),),
             Conv2dTask("conv2d_backward", "backward", "naive"), ("conv2d_forward",),
             strips=_CONV_LOOP_BACKWARD + _CONV_FAST_BACKWARD,
             strip_callers=_CONV_DISPATCH),
        Task("conv2d_im2col_forward", 8,
             "Convolution forward as im2col + one matrix product (method='im2col')",
             ((F + "conv.py", "_conv2d_im2col_forward"),),
             Conv2dTask("conv2d_im2col_forward", "forward", "im2col"),
             strips=_CONV_LOOP_FORWARD + _CONV_FAST_FORWARD, strip_callers=_CONV_DISPATCH),
        Task("conv2d_im2col_backward", 10,
             "Convolution backward with matrix products and col2im (method='im2col')",
             ((F + "conv.py", "_conv2d_im2col_backward"),),
             Conv2dTask("conv2d_im2col_backward", "backward", "im2col"),
             ("conv2d_im2col_forward",), strips=_CONV_LOOP_BACKWARD + _CONV_FAST_BACKWARD,
             strip_callers=_CONV_DISPATCH),
        Task("max_pool2d_forward", 5, "Max pooling forward: window max and where it came from",
             ((F + "pool.py", "max_pool2d_forward"),),
             PoolTask("max_pool2d_forward", "forward", "max"),
             strips=_strip(E + "pool.py", "max_pool2d_forward_fused")
             + _strip(EK + "pool.py", "max_pool2d_forward_loop", "max_pool2d_forward_2x2"),
             strip_callers=_ENGINE_REGISTRATION),
        Task("max_pool2d_backward", 8,
             "Max pooling backward: route dout to the (first) maximum of each window",
             ((F + "pool.py", "max_pool2d_backward"),),
             PoolTask("max_pool2d_backward", "backward", "max"), ("max_pool2d_forward",),
             strips=_strip(E + "pool.py", "max_pool2d_backward_fused")
             + _strip(EK + "pool.py", "max_pool2d_backward_loop"),
             strip_callers=_ENGINE_REGISTRATION),
        Task("avg_pool2d_forward", 4, "Average pooling forward (padding counts in the divisor)",
             ((F + "pool.py", "avg_pool2d_forward"),),
             PoolTask("avg_pool2d_forward", "forward", "avg"),
             strips=_strip(E + "pool.py", "avg_pool2d_forward_fused")
             + _strip(EK + "pool.py", "avg_pool2d_forward_loop"),
             strip_callers=_ENGINE_REGISTRATION),
        Task("avg_pool2d_backward", 6,
             "Average pooling backward: dout / (kH*kW) spread over each window",
             ((F + "pool.py", "avg_pool2d_backward"),),
             PoolTask("avg_pool2d_backward", "backward", "avg"), ("avg_pool2d_forward",),
             strips=_strip(E + "pool.py", "avg_pool2d_backward_fused")
             + _strip(EK + "pool.py", "avg_pool2d_backward_loop"),
             strip_callers=_ENGINE_REGISTRATION),
        Task("batch_norm_forward", 8,
             "BatchNorm forward: batch statistics in training (running estimates updated), "
             "running statistics in evaluation",
             ((F + "norm.py", "batch_norm_forward"),),
             BatchNormTask("batch_norm_forward", "forward"),
             strips=_strip(E + "norm.py", "batch_norm_forward_fused")
             + _strip(EK + "elementwise.py", "batch_norm_stats", "batch_norm_stats_numpy",
                      "batch_norm_affine", "batch_norm_affine_numpy"),
             strip_callers=_ENGINE_REGISTRATION),
        Task("batch_norm_backward", 12,
             "BatchNorm backward: dx through x_hat, the mean and the variance; dgamma, dbeta",
             ((F + "norm.py", "batch_norm_backward"),),
             BatchNormTask("batch_norm_backward", "backward"), ("batch_norm_forward",),
             strips=_strip(E + "norm.py", "batch_norm_backward_fused")
             + _strip(EK + "elementwise.py", "batch_norm_backward_sums",
                      "batch_norm_backward_sums_numpy", "batch_norm_backward_dx",
                      "batch_norm_backward_dx_numpy"), strip_callers=_ENGINE_REGISTRATION),
        Task("dropout_forward", 3, "Inverted dropout forward: keep with 1-p, scale by 1/(1-p)",
             ((F + "dropout.py", "dropout_forward"),),
             DropoutTask("dropout_forward", "forward")),
        Task("dropout_backward", 2, "Dropout backward: the same scaled mask",
             ((F + "dropout.py", "dropout_backward"),),
             DropoutTask("dropout_backward", "backward"), ("dropout_forward",)),
        Task("cross_entropy_forward", 5,
             "Cross-entropy on raw logits (stable log-softmax), mean, optional class weights",
             ((F + "loss.py", "cross_entropy_forward"),),
             CrossEntropyTask("cross_entropy_forward", "forward")),
        Task("cross_entropy_backward", 5, "Cross-entropy backward: (softmax - onehot) / N",
             ((F + "loss.py", "cross_entropy_backward"),),
             CrossEntropyTask("cross_entropy_backward", "backward"),
             ("cross_entropy_forward",)),
        # Graded on stand-ins of the block's layers (checks.residual): it requires no
        # other task, and a conv, BatchNorm or ReLU bug costs its own task only.
        Task("residual_block_backward", 8,
             "Residual block backward: the branch's gradient sum, the projection's backward",
             (("minicnn/models.py", "BasicBlock.backward"),),
             ResidualBlockTask("residual_block_backward")),
        Task("sgd_step", 4,
             "SGD.step: PyTorch's update with momentum, dampening, Nesterov and weight decay",
             (("minicnn/optim/sgd.py", "SGD.step"),), OptimizerTask("sgd_step")),
        Task("adam_step", 5,
             "Adam.step (and AdamW's): moments, bias correction, L2 vs decoupled weight decay",
             (("minicnn/optim/adam.py", "Adam.step"),), OptimizerTask("adam_step"),
             strips=_strip(E + "optim.py", "adam_step_fused")
             + _strip(EK + "optim.py", "adam_update", "adam_update_numpy"),
             strip_callers=_ENGINE_REGISTRATION),
        # The explanations are graded on the check's own small model (checks.explain), not
        # on the student's layers: a layer bug costs its own task only.
        Task("saliency", 6,
             "Saliency and SmoothGrad: max over channels of |dz_t / dx|, one forward and one "
             "backward pass through the model's own layers",
             (("minicnn/explain.py", "saliency"), ("minicnn/explain.py", "_score_gradient")),
             ExplainTask("saliency", "saliency")),
        Task("grad_cam", 6,
             "Grad-CAM: alpha_k = mean of dz_t / dA_k, ReLU(sum_k alpha_k A_k) at a conv layer",
             (("minicnn/explain.py", "grad_cam"),), ExplainTask("grad_cam", "grad_cam")),
    ]


TASKS: dict[str, Task] = {task.id: task for task in _tasks()}

#: Tasks that compute the same answer in another form. A release that assigns one of a
#: group stubs the others too (they are not assigned, but a student copy must not hold a
#: working im2col convolution that the loop tasks can simply call, nor the reverse).
SAME_ANSWER = (("conv2d_forward", "conv2d_im2col_forward"),
               ("conv2d_backward", "conv2d_im2col_backward"))


def stubbed_with(tasks) -> list[Task]:
    """The tasks a release of ``tasks`` stubs: ``tasks`` themselves, then (in registry
    order) every task of the same ``SAME_ANSWER`` group, which a student copy then lacks
    although it is not assigned."""
    ids = {task.id for task in tasks}
    companions = set()
    for group in SAME_ANSWER:
        if ids & set(group):
            companions.update(set(group) - ids)
    return list(tasks) + [TASKS[i] for i in TASKS if i in companions]


def get_tasks(ids=None) -> list[Task]:
    """The tasks with the given ids (all, in registry order, for None); KeyError names the
    unknown ones."""
    if not ids:
        return list(TASKS.values())
    unknown = [i for i in ids if i not in TASKS]
    if unknown:
        raise KeyError(f"unknown task(s): {', '.join(unknown)}; known: {', '.join(TASKS)}")
    return [TASKS[i] for i in ids]


def verify_regions(root=None, *, require_all_registered=True) -> list[str]:
    """Problems with the markers under ``root`` (default: this package's source tree).

    Checks that every registered (file, function) has a solution region and, with
    ``require_all_registered``, that every marked region in the package belongs to a task.
    Returns a list of problems ('' free: empty list).
    """
    root = Path(root) if root is not None else SOURCE_ROOT
    problems = []
    registered = {}
    for task in TASKS.values():
        for path, function in task.regions:
            if (path, function) in registered:
                problems.append(f"{path}:{function} is claimed by both "
                                f"{registered[(path, function)]} and {task.id}")
            registered[(path, function)] = task.id
    found = {}
    for file in sorted((root / "minicnn").rglob("*.py")):
        rel = file.relative_to(root).as_posix()
        if rel.startswith("minicnn/assignments/"):
            continue
        text = file.read_text(encoding="utf-8")
        if "BEGIN SOLUTION" not in text and "END SOLUTION" not in text:
            continue
        try:
            for region in find_regions(text, rel):
                found.setdefault((rel, region.function), []).append(region)
        except RegionError as exc:
            problems.append(str(exc))
        if not _binds_np(text):
            # A student fills the region in with NumPy; the file must give them ``np``,
            # even when the reference solution happens to call a kernel instead.
            problems.append(f"{rel}: has solution regions but no module-level "
                            f"'import numpy as np' for the student's code to use")
    for (path, function), task_id in registered.items():
        if (path, function) not in found:
            where = root / path
            what = "file missing" if not where.exists() else "no '# BEGIN SOLUTION' region"
            problems.append(f"task {task_id}: {path}: {function}: {what}")
    if require_all_registered:
        for (path, function), regions in found.items():
            if (path, function) not in registered:
                problems.append(f"{path}:{regions[0].lineno}: region in {function} belongs to "
                                f"no task (register it in minicnn/assignments/registry.py)")
    return problems


def _binds_np(text: str) -> bool:
    """Whether the module imports NumPy as ``np`` at its top level."""
    for node in ast.parse(text).body:
        if isinstance(node, ast.Import) and any(
                alias.name == "numpy" and alias.asname == "np" for alias in node.names):
            return True
    return False


def _references(tree: ast.AST, names: set) -> list[tuple[str, int, str]]:
    """``(enclosing function, line, name)`` of every use of one of ``names`` in ``tree``
    (definitions and ``__all__`` strings do not count)."""
    uses = []

    def visit(node, function):
        for child in ast.iter_child_nodes(node):
            inner = function
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                inner = child.name
            elif isinstance(child, ast.Name) and child.id in names:
                uses.append((function, child.lineno, child.id))
            elif isinstance(child, ast.Attribute) and child.attr in names:
                uses.append((function, child.lineno, child.attr))
            elif isinstance(child, ast.alias) and (child.asname or child.name) in names:
                uses.append(("<import>", getattr(child, "lineno", 0), child.name))
            visit(child, inner)

    visit(tree, "<module>")
    return uses


def verify_strips(root=None) -> list[str]:
    """Problems with the stripped helpers: each must exist, and be used only inside its own
    task's regions, other helpers stripped with it, or the task's ``strip_callers`` (so a
    release that strips it breaks nothing else)."""
    root = Path(root) if root is not None else SOURCE_ROOT
    problems = []
    sources = {}
    for file in sorted((root / "minicnn").rglob("*.py")):
        rel = file.relative_to(root).as_posix()
        if not rel.startswith("minicnn/assignments/"):
            sources[rel] = file.read_text(encoding="utf-8")
    for task in TASKS.values():
        names = {function for _, function in task.strips}
        if not names:
            continue
        allowed = names | set(task.functions) | set(task.strip_callers)
        allowed |= {name.rsplit(".", 1)[-1] for name in allowed}   # "Adam.step" -> "step"
        for path, function in task.strips:
            if path not in sources:
                problems.append(f"task {task.id}: {path} is missing")
                continue
            try:
                function_body_span(sources[path], function, path)
            except RegionError as exc:
                problems.append(f"task {task.id}: {exc}")
        for rel, text in sources.items():
            if not any(name in text for name in names):
                continue
            for function, line, name in _references(ast.parse(text), names):
                if function in allowed or function == "<import>":
                    continue
                problems.append(f"task {task.id}: {rel}:{line}: {function} uses {name}, which "
                                f"a release of {task.id} strips")
    return problems
