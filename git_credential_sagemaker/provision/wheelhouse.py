"""A wheelhouse on the persistent volume, so a restart reinstalls the helper with no network.

    installed distributions (this package, its dependencies and the extras in use, pip)
        --repack--> <state>/wheels/
    setuptools wheels that virtualenv bundles ------------------------copy----> <state>/wheels/

Many notebook instances run in a VPC without internet, and a restart wipes every pip
install outside the volume. So `setup` repacks what is installed right now, file for file,
into wheels (the files pip recorded, with a fresh RECORD), and the on-start script runs
`pip install --no-index --find-links <wheels>`. Repacking what is installed needs no index
and gives exactly the versions that work today. pip's own wheel bootstraps a venv made
`--without-pip`, since some system Pythons lack ensurepip.

setuptools is there for pre-commit: it installs a Python hook environment as
`pip install . <additional_dependencies>` on a placeholder `setup.py`, which pip builds in
isolation, so it needs setuptools from an index or from here. It is no run-time dependency,
so it is copied from the wheels virtualenv (pre-commit's dependency) ships for seeding venvs.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from git_credential_sagemaker import children
from git_credential_sagemaker.errors import SetupError

PROJECT = "git-credential-sagemaker"
SKIPPED_METADATA = {"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"}


def installed_version() -> str:
    """This package's version, as pip knows it ("0" when run from a source tree it never saw)."""
    try:
        return metadata.version(PROJECT)
    except metadata.PackageNotFoundError:
        return "0"


def python_version() -> str:
    return f"{sys.version_info[0]}.{sys.version_info[1]}"


def extra_requirements(extra: str, root: str = PROJECT) -> list[str]:
    """The distributions `root[extra]` adds (`aws`: boto3)."""
    try:
        requires = metadata.distribution(root).requires or []
    except metadata.PackageNotFoundError:
        return []
    found = []
    for line in requires:
        req = Requirement(line)
        marker = req.marker
        if marker is not None and marker.evaluate({"extra": extra}) and not marker.evaluate():
            found.append(req.name)
    return found


def closure(root: str = PROJECT, extras: tuple[str, ...] = ()) -> list[metadata.Distribution]:
    """`root` (with `extras`) and every distribution it needs at run time, plus pip."""
    seen: dict[str, metadata.Distribution] = {}
    todo = [root, "pip"] + [name for extra in extras for name in extra_requirements(extra, root)]
    while todo:
        name = canonicalize_name(todo.pop())
        if name in seen:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            raise SetupError(f"{name} is not installed; reinstall {PROJECT}") from None
        seen[name] = dist
        for line in dist.requires or []:
            req = Requirement(line)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    return sorted(seen.values(), key=lambda d: canonicalize_name(d.metadata["Name"]))


def _is_editable(dist: metadata.Distribution) -> bool:
    info = json.loads(dist.read_text("direct_url.json") or "{}")
    return bool(info.get("dir_info", {}).get("editable"))


def build_backend(out_dir: Path) -> list[Path]:
    """setuptools wheels for pip's isolated builds, copied from virtualenv's bundled ones."""
    try:
        files = metadata.distribution("virtualenv").files or []
    except metadata.PackageNotFoundError:
        files = []
    bundled = [
        Path(str(f.locate())) for f in files if re.search(r"/setuptools-[^/]*\.whl$", f.as_posix())
    ]
    copied = []
    for wheel in bundled:
        target = out_dir / wheel.name
        if not target.exists():
            tmp = target.with_suffix(".tmp")
            shutil.copyfile(wheel, tmp)
            os.replace(tmp, target)
        copied.append(target)
    if not copied:
        raise SetupError(f"virtualenv's setuptools wheels are missing; reinstall {PROJECT}")
    return copied


def _build_from_source(dist: metadata.Distribution, out_dir: Path) -> Path:
    """An editable install has no files to repack: build its wheel from the source tree.

    With no index: the build backend comes from the wheelhouse (build_backend runs first).
    """
    url = json.loads(dist.read_text("direct_url.json") or "{}").get("url", "")
    source = url.removeprefix("file://") if url.startswith("file://") else ""
    if not os.path.isdir(source):
        raise SetupError(
            f"{dist.metadata['Name']} is an editable install whose source is "
            "gone; reinstall it with `pip install .`"
        )
    before = set(out_dir.glob("*.whl"))
    done = subprocess.run(
        children.argv(
            "pip",
            [
                "wheel",
                "--quiet",
                "--no-deps",
                "--no-index",
                "--find-links",
                str(out_dir),
                "--wheel-dir",
                str(out_dir),
                source,
            ],
        ),
        cwd=children.own_folder(),
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "PIP_CONFIG_FILE": os.devnull},
    )
    built = [
        w
        for w in out_dir.glob("*.whl")
        if w not in before or w.name.startswith(re.sub(r"[-_.]+", "_", dist.metadata["Name"]) + "-")
    ]
    if done.returncode != 0 or not built:
        raise SetupError(
            f"could not build a wheel from {source}: "
            f"{(done.stderr.strip().splitlines() or ['pip failed'])[-1]}"
        )
    return max(built, key=lambda w: w.stat().st_mtime)


def _tags(dist: metadata.Distribution) -> str:
    """The compressed tag set from the installed WHEEL file, e.g. py3-none-any."""
    tags = [
        line.split(":", 1)[1].strip()
        for line in (dist.read_text("WHEEL") or "").splitlines()
        if line.startswith("Tag:")
    ]
    if not tags:
        return "py3-none-any"
    parts = [sorted({t.split("-")[i] for t in tags}) for i in range(3)]
    return "-".join(".".join(p) for p in parts)


def _files(dist: metadata.Distribution) -> Iterator[tuple[str, Path]]:
    """(archive name, file on disk) for what pip installed inside site-packages."""
    for rel in dist.files or []:
        name = rel.as_posix()
        if name.startswith("../") or "__pycache__" in name or name.endswith(".pyc"):
            continue  # console scripts and data files outside site-packages: pip remakes them
        if ".dist-info/" in name and name.rsplit("/", 1)[1] in SKIPPED_METADATA:
            continue
        path = Path(str(dist.locate_file(rel)))
        if path.is_file():
            yield name, path


def _digest(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def repack(dist: metadata.Distribution, out_dir: Path) -> Path:
    """Write one installed distribution back out as a wheel pip can install."""
    if _is_editable(dist):
        return _build_from_source(dist, out_dir)
    name = re.sub(r"[-_.]+", "_", dist.metadata["Name"])
    version = dist.version
    target = out_dir / f"{name}-{version}-{_tags(dist)}.whl"
    files = list(_files(dist))
    dist_info = next((n.split("/", 1)[0] for n, _ in files if ".dist-info/" in n), None)
    if dist_info is None:
        raise SetupError(f"{dist.metadata['Name']} has no installed metadata to repack")
    record = io.StringIO()
    writer = csv.writer(record, lineterminator="\n")
    tmp = target.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as wheel:
        for arcname, path in files:
            data = path.read_bytes()
            wheel.writestr(arcname, data)
            writer.writerow([arcname, _digest(data), len(data)])
        writer.writerow([f"{dist_info}/RECORD", "", ""])
        wheel.writestr(f"{dist_info}/RECORD", record.getvalue())
    os.replace(tmp, target)
    return target


def build(out_dir: Path, extras: tuple[str, ...] = ()) -> list[Path]:
    """Refresh the wheelhouse: one wheel per needed distribution, stale wheels removed."""
    out_dir.mkdir(parents=True, exist_ok=True)
    wheels = build_backend(out_dir)
    wheels += [repack(dist, out_dir) for dist in closure(extras=extras)]
    keep = {w.name for w in wheels}
    for old in out_dir.glob("*.whl"):
        if old.name not in keep:
            old.unlink()
    (out_dir / "python-version").write_text(python_version() + "\n")
    return wheels


def current(out_dir: Path, extras: tuple[str, ...] = ()) -> bool:
    """Whether the wheelhouse holds the installed version of this package, setuptools, and
    what `extras` add."""
    try:
        version = metadata.version(PROJECT)
    except metadata.PackageNotFoundError:
        return False
    wanted = [f"git_credential_sagemaker-{version}-*.whl", "setuptools-*.whl"]
    wanted += [
        f"{re.sub(r'[-_.]+', '_', name)}-*.whl"
        for extra in extras
        for name in extra_requirements(extra)
    ]
    return all(any(out_dir.glob(pattern)) for pattern in wanted)


def installed(extra: str) -> bool:
    """Whether what `extra` adds is installed here (so it can go into the wheelhouse)."""
    names = extra_requirements(extra)
    try:
        for name in names:
            metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return False
    return bool(names)
