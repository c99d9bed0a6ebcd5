"""`pip install edgewright` gives a working package: the wheel built from this tree carries the data files
the code reads at run time (the lab's podman settings, its node image units, the pinned Kubernetes
version, the site images' program sources) and its CLI runs from the installed copy alone."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def data_files() -> list[str]:
    """Every file of the package that is not Python: each is read at run time through importlib.resources."""
    tracked = subprocess.run(
        ["git", "ls-files", "edgewright"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    return [name for name in tracked if not name.endswith(".py")]


def linked_modules() -> list[str]:
    """The package's modules that are links to node-side code (plugins/module_utils), which the package
    shares with the nodes rather than copying it."""
    tracked = subprocess.run(
        ["git", "ls-files", "-s", "edgewright"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    return [line.split("\t", 1)[1] for line in tracked if line.startswith("120000 ")]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel, built from a copy of the tree's tracked files, so the build leaves nothing in the tree."""
    work = tmp_path_factory.mktemp("packaging")
    source = work / "source"
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.split(b"\0")
    for name in filter(None, (n.decode() for n in tracked)):
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    out = work / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(out), str(source)],
        check=True,
        timeout=600,
    )
    (built,) = out.glob("edgewright-*.whl")
    return built


def test_the_wheel_carries_every_data_file_the_code_reads(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = [name for name in data_files() if name not in names]
    assert not missing, f"the wheel lacks {missing}"
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "edgewright = edgewright.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
    # Tests and the project's Ansible content are not part of the Python package.
    assert not [n for n in names if n.startswith(("tests/", "roles/", "library/"))]
    # The node-side code the package shares through links is in the wheel as the file itself.
    for link in linked_modules():
        assert zipfile.ZipFile(wheel).read(link).decode() == (ROOT / link).read_text(), link


def test_the_installed_package_runs_without_the_source_tree(wheel, tmp_path):
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target), str(wheel)],
        check=True,
        timeout=300,
    )
    # The dependencies come from this environment; edgewright itself only from the installed copy.
    env = {**os.environ, "PYTHONPATH": str(target), "PYTHONSAFEPATH": "1"}
    program = (
        "import edgewright, edgewright.lab.kube as kube, edgewright.lab.image as image;"
        "import edgewright.attest.measurements, edgewright.controller.files, edgewright.mesh.identity;"
        "from edgewright.images.catalog import program_source;"
        "print(edgewright.__file__);"
        "print(kube.kubernetes_version());"
        "print(image._unit_text('swtpm.service').splitlines()[0]);"
        "print(program_source('pause.c').is_file())"
    )
    proc = subprocess.run(
        [sys.executable, "-c", program], cwd=tmp_path, env=env, capture_output=True, text=True, check=True
    )
    where, version, unit_line, pause_found = proc.stdout.splitlines()
    assert Path(where).is_relative_to(target)
    assert version == (ROOT / "edgewright/lab/kubernetes.version").read_text().strip()
    assert unit_line.startswith("[")
    assert pause_found == "True"
    cli = subprocess.run(
        [sys.executable, "-m", "edgewright.cli", "--help"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert cli.returncode == 0, cli.stderr
    assert "lab" in cli.stdout
