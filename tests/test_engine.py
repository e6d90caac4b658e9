"""The engines of the partition: local and dask.distributed give the same plan folder.

``gridcover plan`` runs on the bundled county three ways (local; ``--engine dask`` on the
LocalCluster it starts; ``--scheduler`` of a cluster this module starts) and every file
but ``run.json`` must be byte-identical; ``run.json`` may differ only in its timings.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gridcover import datasets
from gridcover._engine import EngineError, unit_executor
from gridcover.cli import app

distributed = pytest.importorskip("distributed")

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def gridcover(*args: object, lang: str | None = "en") -> subprocess.CompletedProcess[str]:
    """The command line in a fresh process, as a user runs it (never longer than 10 min)."""
    env = {k: v for k, v in os.environ.items() if k != "GRIDCOVER_LANG"}
    if lang is not None:
        env["GRIDCOVER_LANG"] = lang
    return subprocess.run([sys.executable, "-m", "gridcover", *map(str, args)], capture_output=True, text=True,
                          timeout=600, env=env)


#: targets.csv's lever columns re-pack the whole plan per lever set after the partition; they
#: do not depend on the engine and take most of a run on two loaded cores, so they are off
#: (as they are by default above 5,000 enterprises).
CONFIG = "[rules]\ntargets_lever_max_enterprises = 0\n"


def plan_args(out: Path) -> list[object]:
    config = out.parent / "engine.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(CONFIG, encoding="utf-8")
    return ["plan", "--config", config, datasets.get_path("ledger"), "--townships", datasets.get_path("townships"),
            "--parks", datasets.get_path("parks"), "--gazetteer", datasets.get_path("gazetteer"),
            "--service-centres", datasets.get_path("service_centres"),
            "--instructors", datasets.get_path("instructors"), "--out", out, "--no-maps"]


def folder_files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def assert_same_plan(a: Path, b: Path) -> None:
    fa, fb = folder_files(a), folder_files(b)
    assert sorted(fa) == sorted(fb)
    assert len(fa) > 10  # a whole plan folder, not an empty one
    for name in fa:
        if name != "run.json":
            assert fa[name] == fb[name], name
    ra, rb = (json.loads(f["run.json"]) for f in (fa, fb))
    assert set(ra["timings_s"]) >= {"ingest", "partition"}
    ra.pop("timings_s"), rb.pop("timings_s")
    assert ra == rb  # same config, inputs, counts and the SHA-256 of every file


@pytest.fixture(scope="module")
def local_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("local") / "plan"
    r = gridcover(*plan_args(out), "--quiet")
    assert r.returncode == 0, r.stderr
    return out


@pytest.fixture(scope="module")
def cluster() -> object:
    """A running Dask cluster of two worker processes, reached by its scheduler address."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=40) as c:
        yield c


def test_dask_local_cluster_gives_the_same_files(local_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "plan"
    r = gridcover(*plan_args(out), "--engine", "dask", "--workers", "2", "--verbose")
    assert r.returncode == 0, r.stderr[-3000:]
    assert "partition on a dask LocalCluster of 2 workers" in r.stderr
    assert_same_plan(local_dir, out)


def test_dask_scheduler_address_gives_the_same_files(local_dir: Path, cluster: object, tmp_path: Path) -> None:
    out = tmp_path / "plan"
    r = gridcover(*plan_args(out), "--engine", "DASK", "--scheduler", cluster.scheduler_address, "--quiet")
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stderr == ""
    assert "gridcover-unit" in cluster.scheduler.task_prefixes  # the units ran as tasks of that cluster
    assert_same_plan(local_dir, out)


def test_dask_executor_keeps_job_order_and_raises_a_units_error(cluster: object) -> None:
    jobs = list(range(40))
    with unit_executor("dask", scheduler=cluster.scheduler_address) as ex:
        assert list(ex.map(pow, jobs, [3] * len(jobs))) == [j**3 for j in jobs]
        assert list(ex.map(pow, [], [])) == []
        with pytest.raises(ZeroDivisionError):
            list(ex.map(divmod, [1, 2, 3], [1, 0, 1]))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_scheduler_is_one_chinese_line_exit_2(tmp_path: Path) -> None:
    address = f"tcp://127.0.0.1:{_free_port()}"
    r = gridcover(*plan_args(tmp_path / "plan"), "--engine", "dask", "--scheduler", address, lang=None)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "无法连接 Dask 调度器" in lines[0] and address in lines[0], r.stderr
    assert not (tmp_path / "plan").exists()  # refused before any work


def _invoke(args: list[object]) -> object:
    return CliRunner().invoke(app, [str(a) for a in args])


def test_dask_not_installed_is_one_chinese_line_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GRIDCOVER_LANG", raising=False)
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    with pytest.raises(EngineError, match=r"gridcover\[dask\]"):
        with unit_executor("dask"):
            pass
    r = _invoke([*plan_args(tmp_path / "plan"), "--engine", "dask"])
    assert r.exit_code == 2
    assert "需要安装 dask" in r.output and "pip install 'gridcover[dask]'" in r.output and "Traceback" not in r.output
    assert not (tmp_path / "plan").exists()


@pytest.mark.parametrize(("extra", "words"), [
    (["--engine", "spark"], "--engine 'spark' 不是 local, dask 之一"),
    (["--scheduler", "tcp://127.0.0.1:8786"], "--scheduler 需要同时给出 --engine dask"),
])
def test_bad_engine_options_are_refused_before_any_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         extra: list[str], words: str) -> None:
    monkeypatch.delenv("GRIDCOVER_LANG", raising=False)
    r = _invoke([*plan_args(tmp_path / "plan"), *extra])
    assert r.exit_code == 2 and words in r.output, r.output
    assert not (tmp_path / "plan").exists()
