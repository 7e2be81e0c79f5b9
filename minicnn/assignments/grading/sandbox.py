"""Where a graded child process runs: the sandbox that keeps a submission away from the grade.

A submission is untrusted code. The grader runs each task of it in a child process
(``runner``) and judges the arrays that come back; this module decides what that child can
see and do. Three modes, strongest first (``resolve_sandbox("auto")`` picks the first that
works on this machine, and every grade report says which one ran):

``bwrap``
    bubblewrap (Debian package ``bubblewrap``), a small, well-kept setuid-free sandbox built
    on Linux namespaces. The child sees a read-only system (``/usr``), the Python runtime with
    its site-packages emptied, NumPy, Numba and llvmlite only (not PyTorch, not the
    instructor's minicnn, not any home or course directory), the submission read-only at
    ``/submission`` and a private scratch directory at ``/grading``; no network; an
    unprivileged uid; its own PID namespace, so every process it starts (``setsid``,
    double forks and all) dies with it.
``user``
    For a grading container where bubblewrap cannot start (no user namespaces) and the
    grader runs as root, as Gradescope's does: the child runs as an unprivileged account
    (``nobody`` by default), on a private copy of the submission, with a process limit; after
    each run every process of that account is killed. It protects what file permissions
    protect: the instructor's files and the grade outputs must not be readable by that
    account (the grader warns when its own reference solutions are), and the network is open.
``none``
    No isolation: the child runs as the grader's own user and can read and write whatever
    that user can, and a process it detaches may outlive it. Only the separate process, the
    time and memory limits and the judging of returned arrays remain. Reported loudly.

In every mode the child runs ``python -I -S -B``: no ``PYTHONPATH``, no user or system
site-packages, no ``.pth`` files; its ``sys.path`` is the standard library, the submission
and a directory holding only NumPy, Numba and llvmlite (``site_packages``). ``-B``: no
``__pycache__`` is written into the submission (``-I`` ignores PYTHONDONTWRITEBYTECODE).
Python trusts a cached .pyc whose recorded source size and mtime (whole seconds) match, so
where the grader rewrites a file in a tree it grades again (the audit writes one catalogue
variant after another into the same copy), a variant written within the same second as an
earlier one of the same size was run as the earlier one's bytecode: the audit once graded
Adam's correct "numpy_path" variant as "step_counted_after_use" (two lines swapped, the same
size), ZeroDivisionError and all.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

from minicnn.assignments.grading.user_account import (hand_over, kill_account, kill_group,
                                                      limit_processes)

MODES = ("auto", "bwrap", "user", "none")
PACKAGES = ("numpy", "numba", "llvmlite")     # what graded code may import besides stdlib
DEFAULT_USER = "nobody"

# Inside the bubblewrap sandbox:
SUBMISSION_MOUNT = "/submission"
SCRATCH_MOUNT = "/grading"
SITE_MOUNT = "/opt/minicnn-site"
NUMBA_CACHE_MOUNT = "/numba-cache"


class SandboxError(RuntimeError):
    """A sandbox mode that was asked for cannot run here (the message says why)."""


@dataclass(frozen=True)
class ChildPython:
    """The interpreter graded code runs on, and where its NumPy, Numba and llvmlite live."""

    executable: str           # the real binary (a venv's python resolved to its base)
    prefix: str               # sys.base_prefix: the standard library lives under it
    packages: tuple           # ((name, directory), ...): numpy, numpy.libs, numba, llvmlite
    site_dirs: tuple          # every site-packages directory of it (hidden in bwrap)


_PROBE = r"""
import json, os, site, sys, sysconfig
import numpy, numba, llvmlite
packages = []
for module in (numpy, numba, llvmlite):
    directory = os.path.dirname(os.path.realpath(module.__file__))
    parent = os.path.dirname(directory)
    name = os.path.basename(directory)
    packages.append((name, directory))
    libs = os.path.join(parent, name + ".libs")          # bundled shared libraries (wheels)
    if os.path.isdir(libs):
        packages.append((name + ".libs", libs))
site_dirs = set(site.getsitepackages()) | {sysconfig.get_paths()[k] for k in ("purelib", "platlib")}
site_dirs |= {os.path.dirname(d) for _, d in packages}
print(json.dumps({"executable": os.path.realpath(sys.executable),
                  "prefix": sys.base_prefix, "packages": packages,
                  "site_dirs": sorted(os.path.realpath(d) for d in site_dirs)}))
"""

_pythons: dict = {}
_pythons_lock = threading.Lock()


def child_python(python=None) -> ChildPython:
    """Describe the child interpreter (default ``$MINICNN_CHILD_PYTHON`` or this Python)."""
    python = str(python or os.environ.get("MINICNN_CHILD_PYTHON") or sys.executable)
    with _pythons_lock:
        if python not in _pythons:
            try:
                proc = subprocess.run([python, "-I", "-c", _PROBE], capture_output=True,
                                      text=True, timeout=120, stdin=subprocess.DEVNULL)
            except OSError as exc:
                raise SandboxError(f"child Python {python}: cannot run it ({exc})") from None
            if proc.returncode != 0:
                tail = (proc.stderr.strip().splitlines() or ["?"])[-1]
                raise SandboxError(f"child Python {python}: it needs NumPy, Numba and "
                                   f"llvmlite ({tail})")
            info = json.loads(proc.stdout)
            _pythons[python] = ChildPython(info["executable"], info["prefix"],
                                           tuple(tuple(p) for p in info["packages"]),
                                           tuple(info["site_dirs"]))
        return _pythons[python]


def link_site_packages(python: ChildPython, directory: Path) -> Path:
    """A directory holding only NumPy, Numba and llvmlite (symbolic links), for sys.path."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, source in python.packages:
        (directory / name).symlink_to(source, target_is_directory=True)
    return directory


@dataclass
class Launch:
    """How to start one child: its command line and the keywords for ``subprocess.Popen``."""

    argv: list
    popen_kwargs: dict


@dataclass
class Sandbox:
    """One isolation mode, ready to start children (``prepare``) and clean up after them."""

    name: str                                   # "bwrap", "user" or "none"
    python: ChildPython
    warnings: list = field(default_factory=list)
    uid: int | None = None                      # user mode: the unprivileged account
    gid: int | None = None
    user: str | None = None
    _serial: threading.Lock = field(default_factory=threading.Lock, repr=False)
    # One submission's own directory (``for_submission``): a Numba cache its task children
    # share (each child compiling the kernels afresh costs seconds) and, for ``user``, the
    # private copy of the submission made once. Never shared between two submissions: one
    # student's compiled code must not reach another's run.
    session: str | None = None
    _session_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def exclusive(self) -> bool:
        """Whether children must run one at a time (user mode kills the whole account)."""
        return self.name == "user"

    def describe(self) -> str:
        """One line for the grade table."""
        text = {"bwrap": "bubblewrap (no network, read-only system, own PID namespace; sees "
                         "only Python, NumPy, Numba and the submission)",
                "user": f"unprivileged user {self.user!r} (no bubblewrap here: file "
                        f"permissions and a process kill protect the grade; network open)",
                "none": "NONE: submission code ran unsandboxed, as the grader's own user, "
                        "with access to your files"}[self.name]
        return f"sandbox: {text}"

    # ------------------------------------------------------------------------ sessions

    @contextmanager
    def for_submission(self):
        """This sandbox with a session directory of its own, for grading one submission;
        removed afterwards. Nested use keeps the outer session."""
        if self.session is not None:
            yield self
            return
        directory = Path(tempfile.mkdtemp(prefix="minicnn-session-"))
        (directory / "numba-cache").mkdir()
        if self.name == "user":             # the account passes through, not lists
            directory.chmod(0o711)
            os.chown(directory / "numba-cache", self.uid, self.gid)
        try:
            yield replace(self, session=str(directory), _session_lock=threading.Lock())
        finally:
            shutil.rmtree(directory, ignore_errors=True)

    @property
    def numba_cache(self) -> str | None:
        """The session's Numba cache directory, as the child sees it (None: no session)."""
        if self.session is None:
            return None
        return NUMBA_CACHE_MOUNT if self.name == "bwrap" else f"{self.session}/numba-cache"

    # ------------------------------------------------------------------------ starting

    def visible_scratch(self, scratch: Path) -> str:
        """The scratch directory's path as the child sees it."""
        return SCRATCH_MOUNT if self.name == "bwrap" else str(scratch)

    def prepare(self, child_script: Path, submission: Path, scratch: Path,
                env: dict) -> Launch:
        """The command that runs ``child_script`` on ``submission`` with ``scratch`` as its
        working directory (``scratch`` holds the inputs and receives the outputs)."""
        if self.name == "bwrap":
            return self._prepare_bwrap(child_script, submission, scratch, env)
        site = link_site_packages(self.python, scratch / "site")
        if self.name == "user":
            submission = self._session_copy(submission, scratch)
            hand_over(scratch, self.uid, self.gid)
        argv = [self.python.executable, "-I", "-S", "-B", str(scratch / child_script.name),
                str(submission), str(scratch), str(site)]
        kwargs = dict(cwd=scratch, env=env, start_new_session=True)
        if self.name == "user":
            kwargs.update(user=self.uid, group=self.gid, extra_groups=[],
                          preexec_fn=limit_processes)
        return Launch(argv, kwargs)

    def _prepare_bwrap(self, child_script, submission, scratch, env) -> Launch:
        args = ["bwrap", "--unshare-all", "--die-with-parent", "--new-session",
                "--uid", "65534", "--gid", "65534", "--hostname", "sandbox"]
        for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
            if os.path.islink(top):
                args += ["--symlink", os.readlink(top), top]
            elif os.path.isdir(top):
                args += ["--ro-bind", top, top]
        args += ["--ro-bind", "/usr", "/usr"]
        for path in ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/localtime"):
            if os.path.exists(path):
                args += ["--ro-bind", path, path]
        prefix = self.python.prefix
        if not prefix.startswith("/usr/"):
            args += ["--ro-bind", prefix, prefix]
        executable_dir = os.path.dirname(self.python.executable)
        if not executable_dir.startswith(("/usr/", prefix)):
            args += ["--ro-bind", executable_dir, executable_dir]
        for site_dir in sorted(_site_dirs_to_hide(self.python)):
            args += ["--tmpfs", site_dir]       # an empty directory over every site-packages
        args += ["--tmpfs", "/tmp", "--proc", "/proc", "--dev", "/dev",
                 "--dir", SITE_MOUNT]
        for name, source in self.python.packages:
            args += ["--ro-bind", source, f"{SITE_MOUNT}/{name}"]
        args += ["--ro-bind", str(submission), SUBMISSION_MOUNT,
                 "--bind", str(scratch), SCRATCH_MOUNT, "--chdir", SCRATCH_MOUNT]
        if self.session is not None:
            args += ["--bind", f"{self.session}/numba-cache", NUMBA_CACHE_MOUNT]
        args += ["--clearenv"]
        for key, value in sorted(env.items()):
            args += ["--setenv", key, value]
        args += [self.python.executable, "-I", "-S", "-B",
                 f"{SCRATCH_MOUNT}/{child_script.name}",
                 SUBMISSION_MOUNT, SCRATCH_MOUNT, SITE_MOUNT]
        return Launch(args, dict(cwd=scratch, env={"PATH": os.environ.get("PATH", "")},
                                 start_new_session=True))

    def _session_copy(self, submission: Path, scratch: Path) -> Path:
        """The private copy of ``submission``: made once per session (so the children share
        one source path, which Numba's cache is keyed on), else once per child."""
        if self.session is None:
            return self._private_copy(submission, scratch / "submission")
        target = Path(self.session) / "submission"
        with self._session_lock:
            if not target.exists():
                self._private_copy(submission, target)
        return target

    @staticmethod
    def _private_copy(submission: Path, target: Path) -> Path:
        """The submission's ``minicnn`` package copied without symbolic links (a link could
        point at the instructor's own solution) and left owned by root, read-only."""
        def ignore(directory, names):
            return [n for n in names if os.path.islink(os.path.join(directory, n))
                    or n == "__pycache__"]

        target.mkdir(parents=True)
        shutil.copytree(submission / "minicnn", target / "minicnn", ignore=ignore)
        for path in [target, *target.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        return target

    # ----------------------------------------------------------------------- cleaning up

    def cleanup(self, proc) -> None:
        """Kill whatever the child left running: its process group (``none``), every
        process of the unprivileged account (``user``); bubblewrap's PID namespace has
        already taken everything with it."""
        kill_group(proc)
        if self.name == "user":
            kill_account(self.uid)


def _site_dirs_to_hide(python: ChildPython) -> set:
    """Every site-packages/dist-packages directory that the sandbox would otherwise show."""
    found = set(python.site_dirs)
    for pattern in ("lib/python3*/site-packages", "lib/python3*/dist-packages",
                    "local/lib/python3*/site-packages", "local/lib/python3*/dist-packages"):
        found.update(str(p) for p in Path("/usr").glob(pattern))
    found.update(str(p) for p in Path(python.prefix).glob("lib/python3*/site-packages"))
    return {d for d in found if os.path.isdir(d)}


# --------------------------------------------------------------------------- choosing


def _readable_by_others(path: Path) -> bool:
    """Whether an account other than the owner can read ``path`` (every parent searchable,
    the file itself readable by others)."""
    path = Path(path).resolve()
    try:
        for parent in reversed(path.parents):
            if not os.stat(parent).st_mode & stat.S_IXOTH:
                return False
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return bool(mode & stat.S_IROTH)


def _reference_files() -> list:
    """The grader's own solutions and hidden checks, which a child must not read."""
    package = Path(__file__).resolve().parents[2]          # .../minicnn
    return [package / "functional" / "conv.py",
            package / "assignments" / "checks" / "hidden_grids.py"]


def _probe(sandbox: Sandbox) -> str:
    """Run a trivial child in ``sandbox``: '' if it works, else why not."""
    scratch = Path(tempfile.mkdtemp(prefix="minicnn-probe-"))
    try:
        script = scratch / "probe.py"
        script.write_text("import sys\nsys.path[:0] = [sys.argv[3]]\nimport numpy, numba\n"
                          "open(sys.argv[2] + '/ok', 'w').write('ok')\n")
        submission = scratch / "empty"
        (submission / "minicnn").mkdir(parents=True)
        launch = sandbox.prepare(script, submission, scratch, env={"PATH": "/usr/bin:/bin"})
        proc = subprocess.run(launch.argv, capture_output=True, text=True, timeout=120,
                              stdin=subprocess.DEVNULL, **{k: v for k, v in
                                                           launch.popen_kwargs.items()
                                                           if k != "start_new_session"})
        if (scratch / "ok").is_file():
            return ""
        tail = (proc.stderr.strip().splitlines() or [f"exit code {proc.returncode}"])[-1]
        return tail[:300]
    except (OSError, subprocess.SubprocessError, SandboxError) as exc:
        return f"{type(exc).__name__}: {exc}"[:300]
    finally:
        if sandbox.name == "user":
            kill_account(sandbox.uid)
        shutil.rmtree(scratch, ignore_errors=True)


def _make(mode: str, python: ChildPython, user) -> Sandbox:
    if mode == "bwrap":
        if shutil.which("bwrap") is None:
            raise SandboxError("bubblewrap is not installed (apt-get install bubblewrap)")
        sandbox = Sandbox("bwrap", python)
    elif mode == "user":
        import pwd

        if os.geteuid() != 0:
            raise SandboxError("--sandbox user needs the grader to run as root (it drops "
                               "each child to an unprivileged account)")
        name = user or os.environ.get("MINICNN_SANDBOX_USER") or DEFAULT_USER
        try:
            account = pwd.getpwnam(name)
        except KeyError:
            raise SandboxError(f"no account {name!r} for --sandbox user (create one, e.g. "
                               f"'useradd --system --no-create-home {name}', or name "
                               f"another with --sandbox-user)") from None
        if account.pw_uid == 0:
            raise SandboxError(f"account {name!r} is root: not a sandbox")
        if not _readable_by_others(Path(python.executable)):
            raise SandboxError(f"the child Python {python.executable} is not readable by "
                               f"{name!r} (it lives in a private directory); give it an "
                               f"interpreter it can read, with NumPy and Numba, through "
                               f"--child-python or $MINICNN_CHILD_PYTHON")
        sandbox = Sandbox("user", python, uid=account.pw_uid, gid=account.pw_gid, user=name)
        readable = [str(p) for p in _reference_files() if _readable_by_others(p)]
        if readable:
            sandbox.warnings.append(
                f"the grader's reference solutions are readable by {name!r} "
                f"({readable[0]}): a submission can import them; install the grader where "
                f"only root can read it (chmod 700), or use bubblewrap")
    else:
        sandbox = Sandbox("none", python)
        sandbox.warnings.append("no sandbox: submission code ran as the grader's own user, "
                                "could read and change your files and the grade outputs, "
                                "and could leave processes running")
    if mode != "none":
        problem = _probe(sandbox)
        if problem:
            raise SandboxError(f"--sandbox {mode} does not work here: {problem}")
    return sandbox


_resolved: dict = {}
_resolved_lock = threading.Lock()


def resolve_sandbox(mode: str = "auto", *, user=None, python=None) -> Sandbox:
    """The sandbox for ``mode``: "bwrap", "user" or "none" (SandboxError if it cannot run
    here), or "auto": bwrap if it works, else user if running as root, else none (with
    ``warnings`` saying why each stronger mode was passed over)."""
    if isinstance(mode, Sandbox):
        return mode
    if mode not in MODES:
        raise ValueError(f"sandbox must be one of {', '.join(MODES)}, got {mode!r}")
    key = (mode, user, python)
    with _resolved_lock:
        if key in _resolved:
            return _resolved[key]
    interpreter = child_python(python)
    if mode != "auto":
        sandbox = _make(mode, interpreter, user)
    else:
        passed_over = []
        candidates = ["bwrap"] + (["user"] if os.geteuid() == 0 else [])
        sandbox = None
        for candidate in candidates:
            try:
                sandbox = _make(candidate, interpreter, user)
                break
            except SandboxError as exc:
                passed_over.append(str(exc))
        if sandbox is None:
            sandbox = _make("none", interpreter, user)
        sandbox.warnings[:0] = [f"auto: {why}" for why in passed_over
                                if sandbox.name != "bwrap"]
    with _resolved_lock:
        _resolved[key] = sandbox
    return sandbox


def add_sandbox_arguments(p, *, default="auto", sandbox_help=None) -> None:
    """``--sandbox`` and its settings (``grade``, ``audit`` and the autograder share them);
    ``default`` and ``sandbox_help`` change the ``--sandbox`` option's default and help."""
    p.add_argument("--sandbox", choices=MODES, default=default,
                   help=sandbox_help or (
                       "how each graded child process is isolated: bwrap (bubblewrap: sees "
                       "only Python, NumPy, Numba and the submission), user (an unprivileged "
                       "user, when running as root), none (no isolation, said loudly); auto "
                       "(default) picks the first that works"))
    p.add_argument("--sandbox-user", metavar="NAME",
                   help="the unprivileged account of --sandbox user (default "
                        "$MINICNN_SANDBOX_USER or 'nobody')")
    p.add_argument("--child-python", metavar="PATH",
                   help="the interpreter graded code runs on; it needs NumPy and Numba "
                        "(default $MINICNN_CHILD_PYTHON or this Python)")
