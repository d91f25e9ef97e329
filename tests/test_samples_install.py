"""A non-editable install ships the samples, and the generator rebuilds them (SPEC §8).

The wheel is built once (`pip wheel --no-deps .`, as `pip install .` would) and installed into a
directory of its own; pullguard then runs from another directory with that installation first on
the path, so the checkout's samples/ cannot be what it finds.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.support.samples import promised_summary

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "samples"


def _files_under(root: Path, suffix: str | None = None) -> set[str]:
    return {
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and (suffix is None or p.suffix == suffix)
    }


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    import shutil

    out = tmp_path_factory.mktemp("wheel")
    # Built from a copy: setuptools builds in the source tree (build/), and a stale build/lib
    # there would hide a file missing from the package list.
    source = tmp_path_factory.mktemp("source") / "pullguard"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(
        ".git", "build", "*.egg-info", "__pycache__", ".pytest_cache", ".hypothesis", ".benchmarks", "snapshots"))
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", str(source), "-w", str(out)],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (found,) = out.glob("pullguard-*.whl")
    return found


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("site")
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(target)  # what `pip install` does with a pure-Python wheel
    return target


@pytest.mark.parametrize("package,source", [
    ("pullguard/samples", SAMPLES),
    ("pullguard/engine", REPO / "engine"),
    ("pullguard/tui", REPO / "tui"),
])
def test_the_wheel_holds_every_file(wheel, package, source):
    with zipfile.ZipFile(wheel) as zf:
        names = {n for n in zf.namelist() if n.startswith(package + "/")}
    shipped = {n[len(package) + 1:] for n in names}
    wanted = _files_under(source) if package == "pullguard/samples" else _files_under(source, ".py")
    assert wanted - shipped == set()


def _run_installed(installed: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(installed), NO_COLOR="1")
    code = (
        "import sys, pullguard.engine, pullguard.engine.samples as s;"
        "print(pullguard.engine.__file__, s.sample_dir(), sep='\\n', file=sys.stderr);"
        "from pullguard.tui.cli import main; sys.exit(main())"
    )
    return subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def test_installed_samples_verify_from_any_directory(installed, tmp_path):
    samples = installed / "pullguard" / "samples"
    proc = _run_installed(installed, tmp_path, "verify", str(samples / "talos" / "policy.yaml"),
                          "--images", str(samples / "images" / "pods.json"),
                          "--trusted-root", str(samples / "trusted_root.json"), "--format", "json")
    engine_file, sample_dir = proc.stderr.splitlines()[:2]
    assert Path(engine_file).is_relative_to(installed) and Path(sample_dir) == samples
    report = json.loads(proc.stdout)
    assert report["summary"] == promised_summary("talos")


def test_regeneration_rebuilds_samples_that_verify_the_same(tmp_path):
    """`python -m devtools.make_samples --out DIR`: same files, same image digests, same outcomes."""
    out = tmp_path / "samples"
    proc = subprocess.run([sys.executable, "-m", "devtools.make_samples", "--out", str(out)], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    def named(files: set[str]) -> set[str]:  # blob names of signatures change with every run
        return {f for f in files if not f.startswith("registry/blobs/")}
    assert named(_files_under(out)) == named(_files_under(SAMPLES))
    assert len(_files_under(out)) == len(_files_under(SAMPLES))
    # Image contents are fixed, so image digests (tags in index.json) are the same as the shipped ones.
    def image_tags(root: Path) -> dict[str, str]:
        index = json.loads((root / "registry" / "index.json").read_text())
        return {m["annotations"]["org.opencontainers.image.ref.name"]: m["digest"]
                for m in index["manifests"]
                if not m["annotations"]["org.opencontainers.image.ref.name"].split(":")[-1].startswith("sha256-")}
    assert image_tags(out) == image_tags(SAMPLES)
    assert (out / "images" / "images.txt").read_text() == (SAMPLES / "images" / "images.txt").read_text()
    verify = subprocess.run(
        [sys.executable, "-c", "import sys; from pullguard.tui.cli import main; sys.exit(main())",
         "verify", str(out / "talos" / "policy.yaml"), "--images", str(out / "images" / "images.txt"),
         "--trusted-root", str(out / "trusted_root.json"), "--format", "json"],
        cwd=tmp_path, env=dict(os.environ, PYTHONPATH=str(REPO)), capture_output=True, text=True, timeout=120,
    )
    assert json.loads(verify.stdout)["summary"] == promised_summary("talos")
