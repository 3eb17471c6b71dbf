"""Where the package's files come from; everything else (metadata, dependencies, entry points) is
in pyproject.toml.

The three folders stay at the top level, as the project owner asked, and are installed as one
import namespace, `ces.*`, so that the bare name `config` never clashes with anything. Packages
and data files are found, not listed: a new module, template or catalog is in the wheel without a
change here (tests/test_packaging.py walks the folders to prove it). pyproject.toml's own `find`
cannot prefix the names it finds with `ces.`, hence these few lines.
"""

from setuptools import find_namespace_packages, setup

FOLDERS = {"ces.worker": "worker", "ces.connectors": "connectors", "ces.config": "config"}


def packages() -> list[str]:
    # Namespace discovery: data-only folders (templates, locale/xx/LC_MESSAGES) are packages too, so
    # the "every file" pattern below reaches them.
    found = []
    for name, folder in FOLDERS.items():
        subs = find_namespace_packages(where=folder, exclude=["__pycache__", "*.__pycache__"])
        found += [name, *(f"{name}.{sub}" for sub in subs)]
    return found


setup(
    packages=packages(),
    package_dir=FOLDERS,
    package_data={"": ["*"]},
    exclude_package_data={"": ["*.py", "*.pyc"]},
)
