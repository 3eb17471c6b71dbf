#!/usr/bin/env python3
"""Vendor a front-end package from the npm registry: a maintainer's tool, never run at install or test time.

    python worker/web/static/vendor/update.py htmx.org@2.0.12      # move a listed package to a version
    python worker/web/static/vendor/update.py NAME@VERSION --file dist/x.min.js --license LICENSE   # add one
    python worker/web/static/vendor/update.py --check               # the vendored bytes are the registry's

It runs `npm pack NAME@VERSION` in a temporary folder, checks the tarball against the registry's
integrity, copies the one file and the licence into NAME/ (without dots) beside this script and rewrites VENDOR.json.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

HERE = Path(__file__).resolve().parent
MANIFEST = HERE / "VENDOR.json"


def npm(*args: str, cwd: Path | None = None) -> str:
    done = subprocess.run(["npm", *args], cwd=cwd, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        sys.exit(f"update.py: npm {' '.join(args)} failed: {done.stderr.strip().splitlines()[-1:]}")
    return done.stdout


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fetch(spec: str, tmp: Path) -> tuple[dict, tarfile.TarFile]:
    """The registry's record of NAME@VERSION and its tarball, checked against the registry's integrity."""
    info = json.loads(npm("view", spec, "name", "version", "license", "dist", "--json"))
    if isinstance(info, list) or spec.rsplit("@", 1)[1] != info["version"]:
        sys.exit(f"update.py: {spec}: give an exact version (it is what gets pinned)")
    [packed] = json.loads(npm("pack", spec, "--json", "--pack-destination", str(tmp), cwd=tmp))
    tarball = tmp / packed["filename"]
    algorithm, digest = info["dist"]["integrity"].split("-", 1)
    if base64.b64encode(hashlib.new(algorithm, tarball.read_bytes()).digest()).decode() != digest:
        sys.exit(f"update.py: {spec}: the tarball does not match the registry's integrity")
    return info, tarfile.open(tarball)


def member(tar: tarfile.TarFile, path: str) -> bytes:
    try:
        return tar.extractfile(f"package/{path}").read()
    except KeyError:
        sys.exit(f"update.py: {tar.name} has no package/{path}")


def vendor(spec: str, entry: dict | None, file: str | None, licence: str | None) -> dict:
    """Write NAME/<file> and NAME/<licence>; return the package's manifest entry."""
    file = file or entry["from"]
    licence = licence or entry["license_from"]
    with tempfile.TemporaryDirectory() as tmp:
        info, tar = fetch(spec, Path(tmp))
        with tar:
            data, licence_text = member(tar, file), member(tar, licence)
    name = info["name"]
    # A folder name without dots: setuptools takes a dotted folder for no package and leaves it
    # out of the wheel (tests/test_packaging.py would say so).
    where = name.replace(".", "")
    folder = HERE / where
    if entry and (HERE / entry["file"]).parent == folder:
        shutil.rmtree(folder)  # the old version's files go; only what the manifest lists stays
    folder.mkdir(parents=True, exist_ok=True)
    (folder / Path(file).name).write_bytes(data)
    (folder / Path(licence).name).write_bytes(licence_text)
    return {
        "name": name, "version": info["version"], "license": info["license"],
        # The tarball's path on the registry (`npm view NAME@VERSION dist.tarball` prints its whole address).
        "tarball": urlsplit(info["dist"]["tarball"]).path.lstrip("/"), "integrity": info["dist"]["integrity"],
        "from": file, "file": f"{where}/{Path(file).name}", "sha256": sha256(data),
        "license_from": licence, "license_file": f"{where}/{Path(licence).name}",
    }


def check(packages: list[dict]) -> int:
    """Compare every vendored file with the one in its pinned tarball."""
    bad = 0
    for entry in packages:
        with tempfile.TemporaryDirectory() as tmp:
            _, tar = fetch(f"{entry['name']}@{entry['version']}", Path(tmp))
            with tar:
                for source, target in ((entry["from"], entry["file"]), (entry["license_from"], entry["license_file"])):
                    same = member(tar, source) == (HERE / target).read_bytes()
                    bad += not same
                    print(f"{'ok' if same else 'DIFFERS'}  {target}  ({entry['name']}@{entry['version']})")
    return 1 if bad else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("spec", nargs="?", help="NAME@VERSION")
    parser.add_argument("--file", help="the file to vendor, its path in the package (new packages)")
    parser.add_argument("--license", help="the licence file, its path in the package (new packages)")
    parser.add_argument("--check", action="store_true", help="compare the vendored files with the registry's")
    args = parser.parse_args(argv)
    packages = json.loads(MANIFEST.read_text())["packages"] if MANIFEST.exists() else []
    if args.check:
        return check(packages)
    if not args.spec or "@" not in args.spec.lstrip("@"):
        parser.error("give NAME@VERSION (an exact version: it is what gets pinned)")
    name = args.spec.rsplit("@", 1)[0]
    entry = next((p for p in packages if p["name"] == name), None)
    if entry is None and not (args.file and args.license):
        parser.error(f"{name} is not vendored yet: give --file and --license")
    new = vendor(args.spec, entry, args.file, args.license)
    packages = sorted([p for p in packages if p["name"] != name] + [new], key=lambda p: p["name"])
    MANIFEST.write_text(json.dumps({"packages": packages}, indent=2) + "\n")
    print(f"vendored {new['name']}@{new['version']}: {new['file']} sha256 {new['sha256']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
