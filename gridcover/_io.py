"""The output edge: CSV cells that cannot run as formulas, atomic files, whole folders.

Three things every writer of gridcover uses (maps, report, outputs, diff):

* :func:`write_csv` — UTF-8 with BOM (Excel opens it as-is); every text cell and header
  that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is prefixed with
  ``'`` (OWASP CSV injection), so a spreadsheet shows it as text instead of evaluating
  it. Numbers stay numbers (a negative number is not text). A text that already starts
  with quotes before such a character gets one more, so :func:`read_csv` gives back
  exactly what was written.
* :func:`atomic_file` — one file written into a hidden temporary folder beside the
  target and renamed over it: a reader never sees half a file.
* :func:`run_tasks` — the independent writers of a folder run in a pool of forked
  processes (each writes its own files), their results given back in task order.
* :func:`write_folder` — all files of one run written into a hidden folder beside the
  target folder, listed with their SHA-256 in ``run.json`` (written last), and swapped
  in as a whole (``renameat2(RENAME_EXCHANGE)`` on Linux: one atomic step; elsewhere
  two renames, and a run killed between them is repaired by the next). A reader, or a
  run killed at any moment, sees the complete previous folder or the complete new one.
  Leftovers of a killed run are removed by the next run; :func:`verify_folder` refuses
  a folder whose files do not match its ``run.json``.

This module imports nothing of gridcover but its errors.

For the crash tests, the environment variable ``GRIDCOVER_KILL_AT`` names a point of the
write phase (``file:N`` after the N-th file of a plan, ``run-json``, ``swap``,
``mid-swap``, ``after-swap``, ``cleanup``) where the process kills itself with SIGKILL,
as a power cut or ``kill -9`` would.
"""

from __future__ import annotations

import ctypes
import errno
import hashlib
import json
import logging
import os
import re
import secrets
import shutil
import signal
import sys
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

import pandas as pd

from .errors import OutputError

__all__ = [
    "RUN_JSON",
    "atomic_file",
    "check_out_path",
    "fault_point",
    "neutralise",
    "neutralise_frame",
    "read_csv",
    "restore",
    "run_tasks",
    "sha256",
    "verify_folder",
    "write_csv",
    "write_folder",
]

logger = logging.getLogger(__name__)

#: The record of a folder, written last; its ``files`` maps each file to its SHA-256.
RUN_JSON: Final = "run.json"

#: First characters a spreadsheet treats as the start of a formula (OWASP).
FORMULA_CHARS: Final = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_START = re.compile(r"^'*[=+\-@\t\r]")

#: Least free space (bytes) an output folder's file system must have before a run starts.
MIN_FREE_BYTES: Final = 8 * 1024 * 1024

#: Free space (bytes) below which a failed write is reported as a full disk.
NEARLY_FULL_BYTES: Final = 1024 * 1024

_KILL_ENV: Final = "GRIDCOVER_KILL_AT"
_AT_FDCWD: Final = -100
_RENAME_EXCHANGE: Final = 2


# --- CSV -----------------------------------------------------------------------------------
def neutralise(text: str) -> str:
    """``text`` with a ``'`` in front when a spreadsheet would read it as a formula.

    Examples
    --------
    >>> [neutralise(s) for s in ("=1+1", "-2+3", "@cmd", "\\tx", "青龙镇", "'=x")]
    ["'=1+1", "'-2+3", "'@cmd", "'\\tx", '青龙镇', "''=x"]
    """
    return "'" + text if _FORMULA_START.match(text) else text


def restore(text: str) -> str:
    """The inverse of :func:`neutralise`.

    Examples
    --------
    >>> restore(neutralise("=HYPERLINK(1)")), restore("'plain")
    ('=HYPERLINK(1)', "'plain")
    """
    if text.startswith("'") and _FORMULA_START.match(text[1:]):
        return text[1:]
    return text


def _is_text_column(s: pd.Series) -> bool:
    return s.dtype == object or isinstance(s.dtype, pd.CategoricalDtype) or pd.api.types.is_string_dtype(s)


def neutralise_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` whose text cells and headers are :func:`neutralise`\\ d; numbers,
    booleans and missing values are left as they are."""
    out = df.copy()
    for i in range(out.shape[1]):
        s = out.iloc[:, i]
        if _is_text_column(s):
            out.isetitem(i, s.astype(object).map(lambda v: neutralise(v) if isinstance(v, str) else v))
    out.columns = [neutralise(c) if isinstance(c, str) else c for c in out.columns]
    return out


def write_csv(df: pd.DataFrame, path: str | Path, *, columns: tuple[str, ...] | None = None) -> Path:
    """Write a CSV in UTF-8 with BOM, atomically, with formula-safe text cells.

    Parameters
    ----------
    df
        The table (its index is not written).
    path
        Target file.
    columns
        Fix the header: these columns in this order (missing ones empty).

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    if columns is not None:
        df = df.reindex(columns=list(columns))
    safe = neutralise_frame(df)
    with atomic_file(path) as tmp:
        # CRLF (RFC 4180): the csv writer then quotes every cell holding a CR or LF, so a
        # stray carriage return in a name cannot split its row
        safe.to_csv(tmp, index=False, encoding="utf-8-sig", lineterminator="\r\n")
    return Path(path)


def read_csv(path: str | Path) -> pd.DataFrame:
    """Read a CSV written by :func:`write_csv` back as text, exactly as it was given."""
    df = pd.read_csv(path, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    df.columns = [restore(str(c)) for c in df.columns]
    for i in range(df.shape[1]):
        df.isetitem(i, df.iloc[:, i].astype(object).map(restore))
    return df


# --- one file --------------------------------------------------------------------------------
def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


def _token() -> str:
    return f"{os.getpid()}-{secrets.token_hex(4)}"


def _leftovers(parent: Path, pattern: re.Pattern[str]) -> list[tuple[Path, str]]:
    """Hidden temporary entries in ``parent`` matching ``pattern`` (groups: kind, pid)
    whose process is gone, sorted by name."""
    try:
        names = sorted(os.listdir(parent))
    except OSError:
        return []
    out = []
    for name in names:
        m = pattern.fullmatch(name)
        if m and not _pid_alive(int(m.group("pid"))):
            out.append((parent / name, m.group("kind")))
    return out


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        try:
            path.unlink()
        except OSError:
            pass


def _fsync_path(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _as_output_error(exc: OSError, target: Path, what: str) -> OutputError:
    reason = exc.strerror or str(exc)
    if exc.errno == errno.ENOSPC:
        reason = "no space left on the disk"
    elif exc.errno == errno.EROFS:
        reason = "the file system is read-only"
    elif exc.errno in (errno.EACCES, errno.EPERM):
        reason = "permission denied"
    msg = f"cannot write {target}: {reason}; {what}"
    return OutputError(msg)


@contextmanager
def atomic_file(target: str | Path, *, suffix: str | None = None) -> Iterator[Path]:
    """Yield a not-yet-existing path in a hidden temporary folder next to ``target``;
    move it over ``target`` when the block ends without an exception.

    On an exception the temporary folder is removed and ``target`` is left as it was
    (an :class:`OSError` such as a full disk becomes an :class:`OutputError` saying so).
    Temporary folders of killed processes for the same target are removed first.

    Parameters
    ----------
    target
        The file to write.
    suffix
        The temporary file's extension when a writer insists on one (GDAL wants
        ``.gpkg``); by default the temporary file has the target's own name.
    """
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        stale = re.compile(re.escape(f".{target.name}.") + r"(?P<kind>)(?P<pid>\d+)-[0-9a-f]+\.tmp")
        for path, _ in _leftovers(target.parent, stale):
            _remove(path)
        tmpdir = target.parent / f".{target.name}.{_token()}.tmp"
        tmpdir.mkdir()
    except OSError as exc:
        raise _as_output_error(exc, target, "nothing was written") from None
    try:
        tmp = tmpdir / (f"part{suffix}" if suffix is not None else target.name)
        yield tmp
        _fsync_path(tmp)
        os.replace(tmp, target)
        _fsync_path(target.parent)
    except OSError as exc:
        if isinstance(exc, OutputError):
            raise
        raise _as_output_error(exc, target, "the previous file is unchanged") from exc
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)


def sha256(path: str | Path) -> str:
    """The SHA-256 of a file, hex."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# --- parallel writers -----------------------------------------------------------------------
#: The tasks of the running :func:`run_tasks` (read by the forked workers, never pickled).
_TASKS: list[Callable[[], Any]] = []


def _die_with_parent() -> None:
    """Pool initialiser: a worker is killed when the writing process dies (Linux), so a
    killed run leaves no writer behind in the hidden folder."""
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):  # pragma: no cover - no prctl
            pass


def _run_task(i: int) -> tuple[Any, float]:
    t0 = time.perf_counter()
    result = _TASKS[i]()
    return result, time.perf_counter() - t0


def run_tasks(tasks: list[Callable[[], Any]], workers: int = 1, *,
              order: list[int] | None = None) -> Iterator[tuple[Any, float]]:
    """Run independent writers, ``workers`` at a time; yield ``(result, seconds)`` of each
    in the order of ``tasks``.

    With ``workers > 1`` (and more than one task) the tasks run in forked processes that
    inherit them (nothing is pickled but the results), started in ``order`` (the largest
    first, say); a task's exception is raised when its turn comes. A writer must write
    only its own files: the bytes written are then those of a serial run. Where ``fork``
    is not available the tasks run one after the other in this process.
    """
    import multiprocessing as mp

    workers = min(max(1, workers), len(tasks))
    if workers == 1 or "fork" not in mp.get_all_start_methods():
        for task in tasks:
            t0 = time.perf_counter()
            result = task()
            yield result, time.perf_counter() - t0
        return
    from concurrent.futures import ProcessPoolExecutor

    _TASKS[:] = tasks
    try:
        with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("fork"),
                                 initializer=_die_with_parent) as pool:
            start = list(dict.fromkeys([*(order or []), *range(len(tasks))]))
            futures = {i: pool.submit(_run_task, i) for i in start}
            try:
                for i in range(len(tasks)):
                    yield futures[i].result()
            except BaseException:
                for f in futures.values():
                    f.cancel()
                raise
    finally:
        _TASKS.clear()


# --- whole folders ---------------------------------------------------------------------------
def fault_point(point: str) -> None:
    """Kill this process with SIGKILL when ``GRIDCOVER_KILL_AT`` names ``point``
    (the crash tests' hook; does nothing otherwise)."""
    if os.environ.get(_KILL_ENV) == point:
        logger.warning("%s=%s: killing the process", _KILL_ENV, point)
        os.kill(os.getpid(), getattr(signal, "SIGKILL", signal.SIGTERM))


def _folder_pattern(name: str) -> re.Pattern[str]:
    return re.compile(re.escape(f".{name}.") + r"(?P<kind>new|old)-(?P<pid>\d+)-[0-9a-f]+")


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one atomic step (Linux ``renameat2``); False when unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    if fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _files(folder: Path) -> list[str]:
    """Every regular file under ``folder`` as a relative POSIX path, sorted."""
    out = []
    for root, dirs, names in os.walk(folder):
        dirs.sort()
        for name in names:
            out.append((Path(root) / name).relative_to(folder).as_posix())
    return sorted(out)


def _is_complete(folder: Path) -> bool:
    try:
        verify_folder(folder)
    except OutputError:
        return False
    return True


def recover(target: str | Path) -> None:
    """Repair and clean up after a run killed while writing ``target``.

    When ``target`` is missing because a run was killed between its two renames, the
    complete previous folder (or else a complete new one) is renamed back; then every
    hidden temporary folder of a process that is gone is removed.
    """
    target = Path(os.path.abspath(target))
    left = _leftovers(target.parent, _folder_pattern(target.name))
    if not target.exists():
        for kind in ("old", "new"):
            whole = [p for p, k in left if k == kind and _is_complete(p)]
            if whole:
                os.rename(whole[0], target)
                logger.warning("restored %s from an interrupted run", target)
                break
    for path, _ in left:
        if path.exists():
            logger.info("removing %s left by an interrupted run", path)
            _remove(path)


def _check_replaceable(target: Path, known: Collection[str]) -> None:
    if not target.exists():
        return
    if not target.is_dir():
        msg = f"the output folder {target} is a file"
        raise OutputError(msg)
    names = os.listdir(target)
    if not names or RUN_JSON in names:
        return
    strangers = sorted(n for n in names if n not in known and not n.startswith("."))
    if strangers:
        listed = ", ".join(strangers[:3]) + (" …" if len(strangers) > 3 else "")
        msg = (f"the output folder {target} holds files that are not a gridcover plan ({listed}); "
               "it is replaced as a whole, so choose a new or empty folder")
        raise OutputError(msg)


def write_folder(target: str | Path, fill: Callable[[Path], Any], record: Mapping[str, Any], *,
                 known: Collection[str] = ()) -> list[Path]:
    """Write a folder as a whole: ``fill`` writes the files, then ``run.json``, then swap.

    Parameters
    ----------
    target
        The folder to create or replace. An existing one must be empty, hold a
        ``run.json`` (an earlier run) or only names in ``known``.
    fill
        Called with the new (hidden) folder; writes every file of the run into it.
    record
        What ``run.json`` holds besides ``files`` (name → SHA-256 of every file,
        added here).
    known
        File names an earlier, incomplete run may have left in ``target``.

    Returns
    -------
    list of pathlib.Path
        The files of the folder (under ``target``), ``run.json`` last.

    Raises
    ------
    OutputError
        When ``target`` cannot be replaced or a file cannot be written (a full disk,
        a read-only file system); ``target`` is then left as it was.
    """
    target = Path(os.path.realpath(target))  # a symlinked folder: replace the folder it points to
    parent = target.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        recover(target)
        _check_replaceable(target, known)
        new = parent / f".{target.name}.new-{_token()}"
        new.mkdir()
    except OSError as exc:
        if isinstance(exc, OutputError):
            raise
        raise _as_output_error(exc, target, "nothing was written") from None
    try:
        fill(new)
        names = [n for n in _files(new) if n != RUN_JSON]
        files = {n: sha256(new / n) for n in names}
        fault_point("run-json")
        text = json.dumps({**record, "files": files}, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
        (new / RUN_JSON).write_text(text, encoding="utf-8")
        for n in [*names, RUN_JSON]:
            _fsync_path(new / n)
        for root, _, _ in os.walk(new):
            _fsync_path(Path(root))
        fault_point("swap")
        _swap(new, target)
    except BaseException as exc:
        # a writer that is not plain Python (GDAL, a zip library) may report a full disk
        # as its own error: the free space left tells
        full = isinstance(exc, Exception) and _nearly_full(parent)
        shutil.rmtree(new, ignore_errors=True)
        kept = "the previous plan is unchanged" if target.exists() else "nothing was written"
        if isinstance(exc, OSError) and not isinstance(exc, OutputError):
            raise _as_output_error(exc, target, kept) from exc
        if full:
            raise _as_output_error(OSError(errno.ENOSPC, str(exc)), target, kept) from exc
        raise
    logger.info("wrote %d files to %s", len(files) + 1, target)
    return [target / n for n in names] + [target / RUN_JSON]


def _nearly_full(folder: Path) -> bool:
    try:
        return shutil.disk_usage(folder).free < NEARLY_FULL_BYTES
    except OSError:
        return False


def _swap(new: Path, target: Path) -> None:
    parent = target.parent
    old = parent / f".{target.name}.old-{_token()}"
    if not target.exists():
        os.rename(new, target)
    elif _exchange(new, target):
        fault_point("after-swap")
        os.rename(new, old)  # ``new`` now holds the previous folder
    else:
        os.rename(target, old)
        fault_point("mid-swap")
        os.rename(new, target)
    _fsync_path(parent)
    if old.exists():
        _remove_folder(old)


def _remove_folder(folder: Path) -> None:
    """Remove a replaced folder, its ``run.json`` first (it no longer marks a whole plan)."""
    try:
        (folder / RUN_JSON).unlink()
    except OSError:
        pass
    fault_point("cleanup")
    shutil.rmtree(folder, ignore_errors=True)


def verify_folder(folder: str | Path) -> dict[str, Any]:
    """Check a folder written by :func:`write_folder` against its ``run.json``.

    Parameters
    ----------
    folder
        The folder.

    Returns
    -------
    dict
        The parsed ``run.json``.

    Raises
    ------
    OutputError
        One line naming what is wrong: the folder or ``run.json`` missing, ``run.json``
        unreadable or without ``files``, a listed file missing or changed.
    """
    folder = Path(folder)
    if not folder.is_dir():
        if any(True for _ in _leftovers(folder.parent, _folder_pattern(folder.name))):
            msg = f"{folder} is missing: a run was interrupted while replacing it; run it again to repair"
        else:
            msg = f"{folder} is not a folder" if folder.exists() else f"{folder} does not exist"
        raise OutputError(msg)
    path = folder / RUN_JSON
    if not path.is_file():
        msg = f"{folder} is not a complete gridcover plan: it has no {RUN_JSON} (the run that wrote it did not finish)"
        raise OutputError(msg)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        msg = f"{path} is damaged ({exc}); write the plan again"
        raise OutputError(msg) from None
    files = record.get("files") if isinstance(record, dict) else None
    if not isinstance(files, dict) or not files:
        msg = f"{path} lists no files with their SHA-256; write the plan again with this version"
        raise OutputError(msg)
    missing, changed = [], []
    for name, digest in sorted(files.items()):
        rel = Path(str(name))
        if rel.is_absolute() or ".." in rel.parts:
            msg = f"{path} names a file outside the folder: {name!r}"
            raise OutputError(msg)
        p = folder / rel
        if not p.is_file():
            missing.append(str(name))
        elif sha256(p) != digest:
            changed.append(str(name))
    if missing or changed:
        parts = []
        if missing:
            parts.append("missing: " + ", ".join(missing[:3]) + (" …" if len(missing) > 3 else ""))
        if changed:
            parts.append("changed since it was written: " + ", ".join(changed[:3]) + (" …" if len(changed) > 3 else ""))
        msg = f"{folder} is not the plan its {RUN_JSON} describes ({'; '.join(parts)}); write the plan again"
        raise OutputError(msg)
    return record


# --- checks before a run -----------------------------------------------------------------------
def _inside(path: Path, folder: Path) -> bool:
    try:
        path.relative_to(folder)
    except ValueError:
        return False
    return True


def _writable(folder: Path) -> bool:
    """Whether this process may create and rename entries in ``folder``."""
    return os.access(folder, os.W_OK | os.X_OK)


def check_out_path(out: str | Path, *, inputs: Collection[str | Path] = (), whole: bool = True,
                   writes: Collection[str] = (), known: Collection[str] = (),
                   min_free: int = MIN_FREE_BYTES) -> None:
    """Refuse an output folder before any work is done.

    Parameters
    ----------
    out
        The output folder.
    inputs
        The input files of the run; none may be inside ``out`` when ``whole`` (the
        folder is replaced as a whole) or be one of ``writes``.
    whole
        ``out`` is replaced as a whole (``plan``, ``demo``).
    writes
        File names written into ``out`` (checked against the inputs when not ``whole``).
    known
        Names an incomplete earlier plan may have left (see :func:`write_folder`).
    min_free
        Least free space on the file system, bytes.

    Raises
    ------
    OutputError
        One line: ``out`` is a file or under one, not writable, on a read-only or full
        file system, holds an input, or holds files that are not a plan.
    """
    target = Path(os.path.abspath(out))
    real = Path(os.path.realpath(target))
    if target.exists() and not target.is_dir():
        msg = f"the output folder {out} is a file"
        raise OutputError(msg)
    for p in inputs:
        src = Path(os.path.realpath(p))
        if (whole and (src == real or _inside(src, real))) or (not whole and src.parent == real and src.name in writes):
            msg = (f"the input {p} is inside the output folder {out}, which is replaced as a whole"
                   if whole else f"the input {p} would be overwritten by the output {src.name}")
            raise OutputError(msg)
    existing = target
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        msg = f"the output folder {out} is under {existing}, which is a file"
        raise OutputError(msg)
    probe = target.parent if whole and target.exists() else existing  # a whole folder is made beside it
    if hasattr(os, "statvfs"):
        st = os.statvfs(probe)
        if st.f_flag & getattr(os, "ST_RDONLY", 1):
            msg = f"the output folder {out} is on a read-only file system"
            raise OutputError(msg)
    if not _writable(probe) or (target.exists() and not _writable(target)):
        msg = f"the output folder {out} is not writable (no permission to write in {probe})"
        raise OutputError(msg)
    free = shutil.disk_usage(probe).free
    if free < min_free:
        msg = (f"the output folder {out} is on a full disk ({free / 2**20:.0f} MiB free, "
               f"at least {min_free / 2**20:.0f} MiB needed)")
        raise OutputError(msg)
    if whole:
        _check_replaceable(target, known)
