"""The package as users install it: the wheel that `pip install .` and the Dockerfile build holds
every module and data file of the three folders, so an installed `ces` runs as the editable one
does. The test walks the folders, so a new module, folder, template or catalog cannot be
forgotten. The wheel is built from exactly what the Dockerfile's build stage copies, so the image
gets the same. (.ci/run also installs a wheel into a fresh venv and runs the demo from it.)"""

from __future__ import annotations

import configparser
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.dockerfile import copy_context, stage

pytestmark = pytest.mark.slow

ROOT = Path(__file__).parent.parent
FOLDERS = {"worker": "ces/worker", "connectors": "ces/connectors", "config": "ces/config"}

# The only files under the three folders that the wheel may leave out, as paths from the
# repository root; each must also be excluded in setup.py. Empty on purpose: what ships is what
# runs. Simulators that only tests use live in tests/simulators/, outside the package; Zendesk's
# (connectors/zendesk/simulator.py, on connectors/simulator.py) and the demo's mail sink stay,
# because `ces demo` runs them with no configuration; config/*.toml are the examples README
# points to.
NOT_INSTALLED: frozenset[str] = frozenset()


def source_files() -> dict[str, str]:
    """Each file under the folders (bytecode and dotfiles aside, as setuptools skips them) → its
    path in the wheel."""
    found = {}
    for folder, target in FOLDERS.items():
        for path in (ROOT / folder).rglob("*"):
            relative = path.relative_to(ROOT / folder)
            if path.is_file() and "__pycache__" not in relative.parts and path.suffix != ".pyc" \
                    and not any(part.startswith(".") for part in relative.parts):
                found[path.relative_to(ROOT).as_posix()] = f"{target}/{relative.as_posix()}"
    return found


@pytest.fixture(scope="module")
def wheel_path(tmp_path_factory) -> Path:
    # Built from a clean copy of the Dockerfile's build context: a *.egg-info/SOURCES.txt left in
    # the checkout by an earlier build would otherwise add the files it once listed, hiding a gap.
    # `python -m build` makes the sdist, then the wheel from the unpacked sdist: both are proved.
    source, out = tmp_path_factory.mktemp("context"), tmp_path_factory.mktemp("dist")
    copy_context(stage("build"), source)
    proc = subprocess.run([sys.executable, "-m", "build", "--outdir", str(out), str(source)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    [path] = out.glob("*.whl")
    return path


@pytest.fixture(scope="module")
def wheel(wheel_path) -> set[str]:
    with zipfile.ZipFile(wheel_path) as archive:
        return set(archive.namelist())


def test_the_wheel_holds_every_file_of_the_three_folders(wheel):
    files = source_files()
    assert NOT_INSTALLED <= files.keys(), f"NOT_INSTALLED names missing files: {NOT_INSTALLED - files.keys()}"
    missing = sorted(source for source, target in files.items()
                     if target not in wheel and source not in NOT_INSTALLED)
    assert missing == [], f"{len(missing)} file(s) missing from the wheel: {missing[:20]}"
    excluded = sorted(source for source in NOT_INSTALLED if files[source] in wheel)
    assert excluded == [], f"in NOT_INSTALLED but still in the wheel (exclude them in setup.py): {excluded}"


def test_the_wheel_holds_nothing_else(wheel):
    expected = set(source_files().values())
    extra = sorted(name for name in wheel if name not in expected and ".dist-info/" not in name)
    assert extra == []


def test_every_entry_point_names_a_module_in_the_wheel(wheel_path, wheel):
    # The `ces` script and the connector plugins are named by hand in pyproject.toml.
    [name] = [n for n in wheel if n.endswith(".dist-info/entry_points.txt")]
    points = configparser.ConfigParser(delimiters=("=",))
    with zipfile.ZipFile(wheel_path) as archive:
        points.read_string(archive.read(name).decode())
    named = {key: value for group in ("console_scripts", "ces.connectors") for key, value in points[group].items()}
    assert {"ces", "zendesk", "generic"} <= named.keys()
    for key, value in named.items():
        module = value.split(":")[0].strip().replace(".", "/")
        assert {f"{module}.py", f"{module}/__init__.py"} & wheel, f"{key} = {value}"
