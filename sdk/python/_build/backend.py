"""A PEP 517 build backend for this package, in the source tree.

The package is pure Python with no dependencies, so building its wheel is
zipping its files with the metadata. Doing that here, with the standard
library only, lets `pip install ./sdk/python` work without downloading a
build backend: the build needs nothing a fresh venv lacks, offline too.
"""

import base64
import hashlib
import io
import os
import re
import tarfile
import zipfile

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_PACKAGE = "memcached_http"


def _project():
    """Reads the [project] table of pyproject.toml (the metadata's one home)."""
    with open(os.path.join(_ROOT, "pyproject.toml"), encoding="utf-8") as f:
        text = f.read()
    try:
        import tomllib  # Python 3.11+
    except ImportError:  # pragma: no cover - Python 3.9 and 3.10
        tomllib = None
    if tomllib is not None:
        return tomllib.loads(text)["project"]
    project, section = {}, None
    for line in text.splitlines():
        m = re.match(r"^\[(.+)\]\s*$", line)
        if m:
            section = m.group(1)
            continue
        m = re.match(r'^([a-z-]+)\s*=\s*"(.*)"\s*$', line)
        if section == "project" and m:
            project[m.group(1)] = m.group(2)
    return project


def _version():
    with open(os.path.join(_ROOT, _PACKAGE, "__init__.py"), encoding="utf-8") as f:
        m = re.search(r'^__version__ = "([^"]+)"$', f.read(), re.M)
    if not m:
        raise RuntimeError("memcached_http/__init__.py has no __version__")
    return m.group(1)


def _metadata():
    project = _project()
    with open(os.path.join(_ROOT, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    lines = [
        "Metadata-Version: 2.1",
        "Name: " + project["name"],
        "Version: " + _version(),
        "Summary: " + project.get("description", ""),
        "Requires-Python: " + project.get("requires-python", ">=3.9"),
        "License: Apache-2.0",
        "Description-Content-Type: text/markdown",
    ]
    return "\n".join(lines) + "\n\n" + readme


def _dist_name():
    return re.sub(r"[-_.]+", "_", _project()["name"]).lower()


def _files():
    pkg = os.path.join(_ROOT, _PACKAGE)
    for name in sorted(os.listdir(pkg)):
        if name.endswith(".py"):
            yield _PACKAGE + "/" + name, os.path.join(pkg, name)


def _record_line(arcname, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return "%s,sha256=%s,%d" % (arcname, digest, len(data))


def _write_wheel(wheel_directory, extra):
    """Writes the wheel with extra (arcname, bytes) entries and returns its name."""
    dist, version = _dist_name(), _version()
    info = "%s-%s.dist-info" % (dist, version)
    name = "%s-%s-py3-none-any.whl" % (dist, version)
    entries = list(extra)
    entries.append((info + "/METADATA", _metadata().encode("utf-8")))
    entries.append((info + "/WHEEL", b"Wheel-Version: 1.0\nGenerator: memcached-http _build\nRoot-Is-Purelib: true\nTag: py3-none-any\n"))
    entries.append((info + "/top_level.txt", (_PACKAGE + "\n").encode()))
    record = [_record_line(a, d) for a, d in entries] + [info + "/RECORD,,"]
    entries.append((info + "/RECORD", ("\n".join(record) + "\n").encode()))
    with zipfile.ZipFile(os.path.join(wheel_directory, name), "w", zipfile.ZIP_DEFLATED) as whl:
        for arcname, data in entries:
            whl.writestr(zipfile.ZipInfo(arcname, date_time=(1980, 1, 1, 0, 0, 0)), data)
    return name


# PEP 517 hooks.


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def get_requires_for_build_editable(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    files = []
    for arcname, path in _files():
        with open(path, "rb") as f:
            files.append((arcname, f.read()))
    return _write_wheel(wheel_directory, files)


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    # PEP 660: a .pth file puts the source tree on sys.path.
    return _write_wheel(wheel_directory, [(_PACKAGE + "_editable.pth", (_ROOT + "\n").encode())])


def build_sdist(sdist_directory, config_settings=None):
    base = "%s-%s" % (_dist_name(), _version())
    name = base + ".tar.gz"
    paths = ["pyproject.toml", "README.md", "_build/backend.py"] + [a for a, _ in _files()]
    with tarfile.open(os.path.join(sdist_directory, name), "w:gz") as tar:
        for rel in paths:
            tar.add(os.path.join(_ROOT, rel), arcname=base + "/" + rel)
        pkg_info = _metadata().encode("utf-8")
        ti = tarfile.TarInfo(base + "/PKG-INFO")
        ti.size = len(pkg_info)
        tar.addfile(ti, io.BytesIO(pkg_info))
    return name
