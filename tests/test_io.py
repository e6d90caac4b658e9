"""The output edge (gridcover._io): formula-safe CSV, atomic files, folders swapped in whole."""

from __future__ import annotations

import csv
import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridcover import _io
from gridcover.errors import OutputError

HOSTILE = ['=HYPERLINK("http://x","y")', "+SUM(1,2)", "-2+3", "@cmd", "\tTAB", "\rCR", "'=already"]
DANGEROUS = ("=", "+", "-", "@", "\t", "\r")


def raw_cells(path: Path) -> list[list[str]]:
    """Every cell of a CSV as plain text, header included (the csv module, no pandas)."""
    with open(path, encoding="utf-8-sig", newline="") as f:
        return list(csv.reader(f))


def test_text_cells_and_headers_are_neutralised_numbers_stay_numbers(tmp_path: Path) -> None:
    df = pd.DataFrame({"name": HOSTILE, "n": [-1, 2, -3, 4, 5, 6, 7], "x": [-0.5] * 7,
                       "=h": ["a"] * 7})
    path = _io.write_csv(df, tmp_path / "t.csv")
    rows = raw_cells(path)
    assert rows[0] == ["name", "n", "x", "'=h"]
    assert [r[0] for r in rows[1:]] == ["'" + h for h in HOSTILE]
    assert [r[1] for r in rows[1:]] == ["-1", "2", "-3", "4", "5", "6", "7"]  # numbers are not text
    assert {r[2] for r in rows[1:]} == {"-0.5"}
    back = pd.read_csv(path, encoding="utf-8-sig")
    assert back["n"].dtype.kind == "i" and back["x"].dtype.kind == "f"
    assert _io.read_csv(path)["name"].tolist() == HOSTILE  # read back exactly as given
    assert list(_io.read_csv(path).columns) == ["name", "n", "x", "=h"]


def test_mixed_object_column_keeps_numbers_and_missing_values(tmp_path: Path) -> None:
    df = pd.DataFrame({"v": ["-x", -7, None, np.nan, True, "ok"]}, dtype=object)
    rows = raw_cells(_io.write_csv(df, tmp_path / "m.csv"))
    assert [r[0] for r in rows[1:]] == ["'-x", "-7", "", "", "True", "ok"]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.text(alphabet=st.sampled_from(list("=+-@\t\r'a1 ,\"\n;青")), max_size=8), min_size=1, max_size=6))
def test_no_written_cell_can_start_a_formula_and_reading_gives_it_back(tmp_path_factory, values) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "f.csv"
    _io.write_csv(pd.DataFrame({"v": values, "k": 1}), path)  # two columns: no blank lines
    rows = raw_cells(path)[1:]
    assert len(rows) == len(values)  # no cell split its row (a CR or LF in a cell is quoted)
    for cell, _ in rows:
        assert not cell.startswith(DANGEROUS), repr(cell)
    assert _io.read_csv(path)["v"].tolist() == values


def test_atomic_file_cleans_temporaries_of_killed_processes(tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)
    stale = tmp_path / f".x.csv.{pid}-abcd1234.tmp"
    stale.mkdir()
    (stale / "x.csv").write_text("half", encoding="utf-8")
    alive = tmp_path / f".x.csv.{os.getpid()}-abcd1234.tmp"  # this process: maybe still writing
    alive.mkdir()
    _io.write_csv(pd.DataFrame({"a": [1]}), tmp_path / "x.csv")
    assert not stale.exists() and alive.exists()
    assert (tmp_path / "x.csv").is_file()


def test_a_full_disk_is_one_clear_error_and_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "t.csv"
    target.write_text("old\n", encoding="utf-8")
    with pytest.raises(OutputError, match="no space left"), _io.atomic_file(target) as tmp:
        tmp.write_text("half", encoding="utf-8")
        raise OSError(errno.ENOSPC, "No space left on device")
    assert target.read_text(encoding="utf-8") == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["t.csv"]


# --- whole folders ------------------------------------------------------------------------
def fill_with(files: dict[str, str]):
    def fill(folder: Path) -> None:
        for name, text in files.items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_text(text, encoding="utf-8")
    return fill


def test_folder_is_written_whole_with_hashes_and_replaced(tmp_path: Path) -> None:
    out = tmp_path / "plan"
    written = _io.write_folder(out, fill_with({"a.csv": "1", "maps/b.html": "2"}), {"tool": "gridcover"})
    assert [p.name for p in written] == ["a.csv", "b.html", "run.json"]
    record = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert record["files"] == {"a.csv": _io.sha256(out / "a.csv"), "maps/b.html": _io.sha256(out / "maps/b.html")}
    assert _io.verify_folder(out)["tool"] == "gridcover"
    _io.write_folder(out, fill_with({"c.csv": "3"}), {"tool": "gridcover"})
    assert sorted(p.name for p in out.rglob("*")) == ["c.csv", "run.json"]  # nothing of the old run is left
    assert [p.name for p in tmp_path.iterdir()] == ["plan"]  # and no temporary folder


def test_a_failing_run_leaves_the_previous_folder_whole(tmp_path: Path) -> None:
    out = tmp_path / "plan"
    _io.write_folder(out, fill_with({"a.csv": "old"}), {"tool": "gridcover"})
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def full_disk(folder: Path) -> None:
        (folder / "a.csv").write_text("new", encoding="utf-8")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OutputError, match="no space left on the disk; the previous plan is unchanged"):
        _io.write_folder(out, full_disk, {"tool": "gridcover"})
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["plan"]


def test_a_folder_of_other_files_is_never_replaced(tmp_path: Path) -> None:
    out = tmp_path / "documents"
    out.mkdir()
    (out / "notes.docx").write_text("mine", encoding="utf-8")
    with pytest.raises(OutputError, match="not a gridcover plan"):
        _io.write_folder(out, fill_with({"a.csv": "1"}), {}, known={"a.csv"})
    assert (out / "notes.docx").read_text(encoding="utf-8") == "mine"


@pytest.mark.parametrize("damage", ["missing", "changed", "no_run_json", "bad_json", "no_files"])
def test_verify_refuses_a_damaged_folder_with_one_line(tmp_path: Path, damage: str) -> None:
    out = tmp_path / "plan"
    _io.write_folder(out, fill_with({"a.csv": "1", "b.csv": "2"}), {"tool": "gridcover"})
    if damage == "missing":
        (out / "b.csv").unlink()
    elif damage == "changed":
        (out / "a.csv").write_text("9", encoding="utf-8")
    elif damage == "no_run_json":
        (out / "run.json").unlink()
    elif damage == "bad_json":
        (out / "run.json").write_text("{", encoding="utf-8")
    else:
        (out / "run.json").write_text('{"tool": "gridcover"}', encoding="utf-8")
    with pytest.raises(OutputError) as info:
        _io.verify_folder(out)
    message = str(info.value)
    assert "\n" not in message and str(out) in message
    expected = {"missing": "missing: b.csv", "changed": "changed since it was written: a.csv",
                "no_run_json": "no run.json", "bad_json": "damaged", "no_files": "lists no files"}[damage]
    assert expected in message


def dead_pid() -> int:
    return int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True).stdout)


def test_a_run_killed_between_the_renames_is_repaired_by_the_next(tmp_path: Path) -> None:
    out = tmp_path / "plan"
    _io.write_folder(out, fill_with({"a.csv": "old"}), {"tool": "gridcover"})
    pid = dead_pid()
    old = tmp_path / f".plan.old-{pid}-00000001"
    new = tmp_path / f".plan.new-{pid}-00000001"
    out.rename(old)  # what a run killed after its first rename leaves
    _io.write_folder(new, fill_with({"a.csv": "new"}), {"tool": "gridcover"})
    with pytest.raises(OutputError, match="interrupted"):
        _io.verify_folder(out)  # a reader meanwhile: one clear line
    _io.recover(out)
    assert (out / "a.csv").read_text(encoding="utf-8") == "old"  # the previous plan, whole
    assert _io.verify_folder(out) and [p.name for p in tmp_path.iterdir()] == ["plan"]


def test_the_swap_also_works_without_an_atomic_exchange(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_io, "_exchange", lambda a, b: False)
    out = tmp_path / "plan"
    _io.write_folder(out, fill_with({"a.csv": "1"}), {"tool": "gridcover"})
    _io.write_folder(out, fill_with({"a.csv": "2"}), {"tool": "gridcover"})
    assert (out / "a.csv").read_text(encoding="utf-8") == "2"
    assert [p.name for p in tmp_path.iterdir()] == ["plan"]


# --- checks before a run --------------------------------------------------------------------
def test_out_path_checks_before_any_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ledger = tmp_path / "in" / "enterprises.csv"
    ledger.parent.mkdir()
    ledger.write_text("x", encoding="utf-8")
    a_file = tmp_path / "file.txt"
    a_file.write_text("x", encoding="utf-8")
    cases = {
        "is a file": dict(out=a_file),
        "which is a file": dict(out=a_file / "sub"),
        "inside the output folder": dict(out=tmp_path / "in", inputs=[ledger]),
        "inside the output folder ": dict(out=tmp_path, inputs=[ledger]),
        "would be overwritten": dict(out=tmp_path / "in", inputs=[ledger], whole=False,
                                     writes=("enterprises.csv", "rejects.csv")),
    }
    for expected, kwargs in cases.items():
        with pytest.raises(OutputError, match=expected.strip()):
            _io.check_out_path(**kwargs)
    # a validation folder next to its ledger is fine when no output has the ledger's name
    _io.check_out_path(tmp_path / "in", inputs=[ledger], whole=False, writes=("rejects.csv",))
    _io.check_out_path(tmp_path / "new" / "deeper", inputs=[ledger])


def test_out_path_on_a_read_only_full_or_unwritable_file_system(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Root ignores permissions and no read-only mount can be made here, so the file
    system's answers are stood in for: what statvfs, disk_usage and access(2) report."""
    real_statvfs = os.statvfs

    class ReadOnly:
        def __init__(self, st: os.statvfs_result) -> None:
            self.f_flag = st.f_flag | os.ST_RDONLY

    monkeypatch.setattr(_io.os, "statvfs", lambda p: ReadOnly(real_statvfs(p)))
    with pytest.raises(OutputError, match="read-only file system"):
        _io.check_out_path(tmp_path / "out")
    monkeypatch.undo()
    monkeypatch.setattr(_io.shutil, "disk_usage", lambda p: type("U", (), {"free": 1024})())
    with pytest.raises(OutputError, match="full disk"):
        _io.check_out_path(tmp_path / "out")
    monkeypatch.undo()
    monkeypatch.setattr(_io, "_writable", lambda p: False)
    with pytest.raises(OutputError, match="not writable"):
        _io.check_out_path(tmp_path / "out")


def test_a_symlinked_out_folder_stays_a_link_to_the_new_plan(tmp_path: Path) -> None:
    real = tmp_path / "store" / "plan"
    _io.write_folder(real, fill_with({"a.csv": "1"}), {"tool": "gridcover"})
    link = tmp_path / "current"
    link.symlink_to(real, target_is_directory=True)
    _io.write_folder(link, fill_with({"a.csv": "2"}), {"tool": "gridcover"})
    assert link.is_symlink() and (link / "a.csv").read_text(encoding="utf-8") == "2"
    assert _io.verify_folder(link) and sorted(p.name for p in (tmp_path / "store").iterdir()) == ["plan"]


def test_a_folder_the_user_may_not_write_to_is_refused() -> None:
    """A real permission check: as root (which ignores permissions) the check runs in a
    forked child that has dropped to the unprivileged user ``nobody``."""
    import shutil
    import tempfile

    parent = Path(tempfile.mkdtemp(prefix="gc-perm-"))
    try:
        parent.chmod(0o755)
        locked = parent / "locked"
        locked.mkdir()
        locked.chmod(0o555)
        pid = os.fork()
        if pid == 0:  # the child: become nobody, then check
            code = 13
            try:
                if os.geteuid() == 0:
                    os.setgid(65534)
                    os.setuid(65534)
                try:
                    _io.check_out_path(locked / "plan")
                    code = 12
                except OutputError as exc:
                    code = 10 if "not writable" in str(exc) else 11
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 10
    finally:
        (parent / "locked").chmod(0o755)
        shutil.rmtree(parent, ignore_errors=True)
