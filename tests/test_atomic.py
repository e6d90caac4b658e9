"""A plan folder is never half-written: ``kill -9`` at any moment of the write phase.

``gridcover plan`` (on a small county) runs in a fresh process that SIGKILLs itself at a named point of the
write phase (``GRIDCOVER_KILL_AT``, see :mod:`gridcover._io`): after the first, fifth
and ninth file, before ``run.json``, before the swap, between the two renames of the
fallback swap, right after the atomic exchange and while the replaced folder is being
removed. After each kill the folder must hold exactly one whole plan (every file of its
``run.json`` with its hash, nothing else), the previous one or the new one; the next
run must clean every leftover.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from gridcover import _io
from gridcover.errors import OutputError

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

#: The fallback swap (two renames) for platforms without an atomic exchange.
NO_EXCHANGE = ("import sys, gridcover._io as io; io._exchange = lambda a, b: False; "
               "from gridcover.cli import main; sys.argv[0] = 'gridcover'; main()")


@pytest.fixture(scope="module")
def county(tmp_path_factory) -> list[str]:
    from test_outputs import hostile_inputs

    inputs = hostile_inputs(tmp_path_factory.mktemp("county"))
    return [str(inputs.ledger), "--townships", str(inputs.townships)]


def plan(county: list[str], out: Path, *extra: str, kill_at: str | None = None,
         fallback: bool = False) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "GRIDCOVER_KILL_AT"}
    if kill_at is not None:
        env["GRIDCOVER_KILL_AT"] = kill_at
    cmd = [sys.executable, "-c", NO_EXCHANGE] if fallback else [sys.executable, "-m", "gridcover"]
    return subprocess.run([*cmd, "plan", *county, "--out", str(out), "--quiet", *extra], capture_output=True,
                          text=True, env=env, timeout=900)


def whole_plan(folder: Path) -> dict[str, str]:
    """The ``files`` of a folder that holds exactly one whole plan (else the test fails)."""
    record = _io.verify_folder(folder)  # every listed file exists with its hash
    on_disk = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    assert on_disk == set(record["files"]) | {"run.json"}, on_disk ^ (set(record["files"]) | {"run.json"})
    return dict(record["files"])


def leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith("."))


def test_sigkill_at_any_moment_of_the_write_phase_leaves_one_whole_plan(county: list[str], tmp_path: Path) -> None:
    out = tmp_path / "plan"
    r = plan(county, out)  # the previous plan: with maps
    assert r.returncode == 0, r.stderr
    previous = whole_plan(out)
    ref = plan(county, tmp_path / "reference", "--no-maps")  # what the killed runs write: no maps
    assert ref.returncode == 0, ref.stderr
    new = whole_plan(tmp_path / "reference")
    assert previous != new and "map.html" in previous and "map.html" not in new

    seen_leftovers = []
    for point in ("file:1", "file:5", "file:9", "run-json", "swap"):
        r = plan(county, out, "--no-maps", kill_at=point)
        assert r.returncode == -signal.SIGKILL, (point, r.returncode, r.stderr)
        assert whole_plan(out) == previous, point  # killed before the swap: the previous plan, whole
        seen_leftovers += leftovers(tmp_path)
    assert any(".plan.new-" in n for n in seen_leftovers)  # the killed runs did leave half folders…
    assert len(leftovers(tmp_path)) <= 1  # …and each run removed those of the run before

    # the fallback swap killed between its renames: the folder is missing for a moment
    r = plan(county, out, "--no-maps", kill_at="mid-swap", fallback=True)
    assert r.returncode == -signal.SIGKILL, r.stderr
    assert not out.exists()
    with pytest.raises(OutputError, match="interrupted"):
        _io.verify_folder(out)
    reader = subprocess.run([sys.executable, "-m", "gridcover", "map", str(out)], capture_output=True, text=True,
                            timeout=300)
    assert reader.returncode == 2 and "run it again to repair" in reader.stderr

    # the next run repairs it (the previous plan comes back) and is killed right after its swap
    r = plan(county, out, "--no-maps", kill_at="after-swap")
    assert r.returncode == -signal.SIGKILL, r.stderr
    assert whole_plan(out) == new
    assert leftovers(tmp_path)  # the replaced plan is still beside it

    r = plan(county, out, "--no-maps", kill_at="cleanup")  # killed while removing the replaced folder
    assert r.returncode == -signal.SIGKILL, r.stderr
    assert whole_plan(out) == new

    r = plan(county, out, "--no-maps")
    assert r.returncode == 0, r.stderr
    assert whole_plan(out) == new
    assert leftovers(tmp_path) == []  # every leftover of the killed runs is gone
    assert json.loads((out / "run.json").read_text(encoding="utf-8"))["counts"]["input_rows"] == 25
