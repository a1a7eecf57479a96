#!/usr/bin/env python3
"""Turn the PyInstaller folder into a Debian package with ``dpkg-deb``.

    python3 packaging/linux/build_deb.py --bundle build/dist/sd21-desktop --out build/installers

The package is ``sd21-desktop-cpu`` or ``sd21-desktop-cuda`` (which torch the bundle carries, from
its ``build_info.json``), in ``sd21-desktop-<flavour>_<version>-<revision>_<arch>.deb``; each
provides, conflicts with and replaces ``sd21-desktop``, so installing one flavour swaps out the
other. Either installs

* the program folder at ``/opt/sd21-desktop/`` (both programs and ``_internal/``),
* ``/usr/bin/sd21-desktop`` and ``/usr/bin/sd21-desktop-cli`` (symlinks into it),
* ``/usr/share/applications/sd21-desktop.desktop`` and the icon in
  ``/usr/share/icons/hicolor/<size>/apps/``,
* ``/usr/share/doc/sd21-desktop/copyright``,

and its maintainer scripts refresh the desktop database and icon cache when those tools exist.
``Depends`` is worked out from the system libraries the bundle links to (``ldd`` + ``dpkg -S``, what
``dpkg-shlibdeps`` does) plus the X11/xcb libraries Qt's platform plugin loads. Only the standard
library is used, so the system ``python3`` can run it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
PACKAGING = HERE.parent
ROOT = PACKAGING.parent
PACKAGE = "sd21-desktop"
INSTALL_DIR = f"/opt/{PACKAGE}"
PROGRAMS = (PACKAGE, f"{PACKAGE}-cli")
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
MAINTAINER = "SD21 Desktop developers <sd21-desktop@users.noreply.github.com>"
HOMEPAGE = "https://github.com/sd21-desktop/sd21-desktop"
DESCRIPTION = """\
Stable Diffusion 2.x on your own machine ({build})
 A native desktop app for the Stable Diffusion 2.x family (2.1, 2.1-base,
 inpainting, depth, x4 upscaler): a prompt editor, a mask canvas and a
 gallery that remembers how every image was made. Includes the headless
 sd21-desktop-cli command. Model weights are downloaded on first use into
 the Hugging Face cache. For NVIDIA GPUs install sd21-desktop-cuda, which
 brings its own CUDA libraries and needs only the NVIDIA driver."""
FLAVOUR_DESCRIPTIONS = {"cpu": "CPU build", "cuda": "CUDA build for NVIDIA GPUs"}
# Qt's xcb platform plugin and the libraries it dlopen()s, which ldd on the bundle may not show.
QT_RUNTIME_PACKAGES = (
    "libegl1",
    "libgl1",
    "libfontconfig1",
    "libfreetype6",
    "libdbus-1-3",
    "libxkbcommon0",
    "libxkbcommon-x11-0",
    "libxcb-cursor0",
    "libxcb-icccm4",
    "libxcb-image0",
    "libxcb-keysyms1",
    "libxcb-randr0",
    "libxcb-render-util0",
    "libxcb-shape0",
    "libxcb-xfixes0",
    "libxcb-xkb1",
    "libx11-xcb1",
)
# Qt's Wayland platform plugin: without these Qt falls back to X11 (XWayland), so they are
# recommended rather than required.
RECOMMENDED_PACKAGES = ("libwayland-cursor0", "libwayland-egl1")
POSTINST = """\
#!/bin/sh
set -e
if [ "$1" = "configure" ]; then
    if command -v update-desktop-database >/dev/null 2>&1; then
        update-desktop-database -q /usr/share/applications || true
    fi
    if command -v gtk-update-icon-cache >/dev/null 2>&1 \\
            && [ -f /usr/share/icons/hicolor/index.theme ]; then
        gtk-update-icon-cache -q -t -f /usr/share/icons/hicolor || true
    fi
fi
exit 0
"""
POSTRM = """\
#!/bin/sh
set -e
case "$1" in
    remove|purge)
        if command -v update-desktop-database >/dev/null 2>&1; then
            update-desktop-database -q /usr/share/applications || true
        fi
        if command -v gtk-update-icon-cache >/dev/null 2>&1 \\
                && [ -f /usr/share/icons/hicolor/index.theme ]; then
            gtk-update-icon-cache -q -t -f /usr/share/icons/hicolor || true
        fi
        # The frozen program never writes into its folder; an empty one left behind goes too.
        rmdir --ignore-fail-on-non-empty /opt/sd21-desktop 2>/dev/null || true
        ;;
esac
exit 0
"""
COPYRIGHT = """\
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: sd21-desktop
Source: {homepage}

Files: *
Copyright: SD21 Desktop developers
License: MIT

Files: opt/sd21-desktop/_internal/*
Copyright: the authors of each bundled package
License: various
 The folder holds Python, PyTorch (BSD-3-Clause), diffusers and transformers (Apache-2.0),
 Qt for Python / PySide6 (LGPL-3.0), NumPy and SciPy (BSD-3-Clause), Pillow (MIT-CMU) and
 their dependencies. Each package's licence is in its *.dist-info folder inside _internal/.

License: MIT
 Permission is hereby granted, free of charge, to any person obtaining a copy of this software
 and associated documentation files (the "Software"), to deal in the Software without
 restriction, including without limitation the rights to use, copy, modify, merge, publish,
 distribute, sublicense, and/or sell copies of the Software, and to permit persons to whom the
 Software is furnished to do so, subject to the following conditions:
 .
 The above copyright notice and this permission notice shall be included in all copies or
 substantial portions of the Software.
 .
 THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING
 BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND
 NONINFRINGEMENT.
"""


def app_version() -> str:
    text = (ROOT / "sd21_desktop" / "__init__.py").read_text(encoding="utf-8")
    match = re.search(r"""^__version__\s*=\s*["']([^"']+)["']""", text, re.MULTILINE)
    if not match:
        raise SystemExit("no __version__ in sd21_desktop/__init__.py")
    return match.group(1)


def bundle_flavour(bundle: Path) -> str:
    """ "cpu" or "cuda": what the spec recorded in build_info.json, else torch's libraries say."""
    internal = bundle / "_internal"
    try:
        flavour = json.loads((internal / "build_info.json").read_text(encoding="utf-8"))["flavour"]
    except (OSError, ValueError, KeyError, TypeError):
        flavour = None
    if flavour in ("cpu", "cuda"):
        return str(flavour)
    return "cuda" if (internal / "torch" / "lib" / "libtorch_cuda.so").exists() else "cpu"


def package_name(flavour: str) -> str:
    return f"{PACKAGE}-{flavour}"


def _is_elf(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return handle.read(4) == b"\x7fELF"
    except OSError:
        return False


def elf_files(bundle: Path) -> list[Path]:
    return [
        path
        for path in sorted(bundle.rglob("*"))
        if path.is_file() and not path.is_symlink() and _is_elf(path)
    ]


def max_glibc_version(files: list[Path]) -> str | None:
    """The newest ``GLIBC_x.y`` symbol version any bundled binary asks for."""
    pattern = re.compile(rb"GLIBC_(\d+)\.(\d+)")
    best: tuple[int, int] | None = None
    for path in files:
        for major, minor in pattern.findall(path.read_bytes()):
            found = (int(major), int(minor))
            if best is None or found > best:
                best = found
    return None if best is None else f"{best[0]}.{best[1]}"


def system_libraries(bundle: Path, files: list[Path]) -> tuple[set[str], set[str]]:
    """(libraries resolved outside the bundle, names not found at all), as ``ldd`` sees them."""
    library_dirs = sorted({str(path.parent) for path in files})
    env = {**os.environ, "LD_LIBRARY_PATH": os.pathsep.join(library_dirs)}
    outside: set[str] = set()
    missing: set[str] = set()
    bundle_text = str(bundle.resolve())
    for start in range(0, len(files), 200):
        chunk = [str(path) for path in files[start : start + 200]]
        done = subprocess.run(["ldd", *chunk], capture_output=True, text=True, env=env)
        for line in done.stdout.splitlines():
            line = line.strip()
            if "=> not found" in line:
                missing.add(line.split()[0])
            elif "=>" in line:
                target = line.split("=>", 1)[1].strip().split(" (", 1)[0].strip()
                if target.startswith("/") and not target.startswith(bundle_text):
                    outside.add(target)
            elif line.startswith("/") and "ld-linux" in line:
                outside.add(line.split(" (", 1)[0])
    return outside, missing


def owning_packages(paths: set[str]) -> set[str]:
    packages: set[str] = set()
    for path in sorted(paths):
        candidates = [path, os.path.realpath(path)]
        for prefix_from, prefix_to in (("/usr/lib/", "/lib/"), ("/lib/", "/usr/lib/")):
            candidates += [
                c.replace(prefix_from, prefix_to, 1)
                for c in list(candidates)
                if c.startswith(prefix_from)
            ]
        for candidate in dict.fromkeys(candidates):
            done = subprocess.run(["dpkg", "-S", candidate], capture_output=True, text=True)
            if done.returncode == 0:
                for line in done.stdout.splitlines():
                    if line.startswith("diversion"):
                        continue
                    # "libfoo1:amd64, libfoo1:i386: /usr/lib/..." -> libfoo1
                    for name in line.split(": ", 1)[0].split(","):
                        packages.add(name.strip().split(":", 1)[0])
                break
        else:
            print(f"  warning: no Debian package owns {path}", file=sys.stderr)
    return packages


def compute_depends(bundle: Path) -> str:
    files = elf_files(bundle)
    outside, missing = system_libraries(bundle, files)
    packages = owning_packages(outside) | set(QT_RUNTIME_PACKAGES)
    packages.discard("libc6")
    if missing:
        print(
            f"  note: libraries not on this build machine, left to Depends/Recommends: "
            f"{sorted(missing)}"
        )
    glibc = max_glibc_version(files)
    libc = f"libc6 (>= {glibc})" if glibc else "libc6"
    return ", ".join([libc, *sorted(packages)])


def desktop_entry() -> str:
    return (HERE / f"{PACKAGE}.desktop").read_text(encoding="utf-8")


def _copy_tree(source: Path, target: Path) -> None:
    shutil.copytree(source, target, symlinks=True)
    for folder, _dirs, names in os.walk(target):
        os.chmod(folder, 0o755)
        for name in names:
            path = Path(folder) / name
            if path.is_symlink():
                continue
            executable = path.stat().st_mode & stat.S_IXUSR
            os.chmod(path, 0o755 if executable else 0o644)


def _write(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    os.chmod(path, mode)


def _md5sums(staging: Path) -> str:
    lines = []
    for path in sorted(staging.rglob("*")):
        relative = path.relative_to(staging)
        if relative.parts[0] == "DEBIAN" or path.is_symlink() or not path.is_file():
            continue
        digest = hashlib.md5(usedforsecurity=False)
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        lines.append(f"{digest.hexdigest()}  {relative.as_posix()}\n")
    return "".join(lines)


def _installed_size_kib(staging: Path) -> int:
    total = 0
    for path in staging.rglob("*"):
        if path.relative_to(staging).parts[0] == "DEBIAN":
            continue
        total += path.lstat().st_size if path.is_file() or path.is_symlink() else 0
    return (total + 1023) // 1024


def build_deb(
    bundle: Path,
    out_dir: Path,
    revision: str = "1",
    compression: str = "xz",
    icons: Path = PACKAGING / "icons",
    level: int | None = None,
) -> Path:
    """Build ``sd21-desktop-<flavour>_<version>-<revision>_<arch>.deb`` from a PyInstaller folder;
    ``level``: the compressor's level (dpkg-deb's default when None)."""
    bundle = bundle.resolve()
    for program in PROGRAMS:
        if not (bundle / program).is_file():
            raise SystemExit(f"{bundle} has no {program}: build the bundle first")
    if shutil.which("dpkg-deb") is None:
        raise SystemExit("dpkg-deb is not installed (apt-get install dpkg)")
    arch = subprocess.run(
        ["dpkg", "--print-architecture"], capture_output=True, text=True, check=True
    ).stdout.strip()
    version = f"{app_version()}-{revision}"
    flavour = bundle_flavour(bundle)
    name = package_name(flavour)
    staging = out_dir / f"deb-root-{name}_{version}_{arch}"
    if staging.exists():
        shutil.rmtree(staging)
    print(f"staging {staging}")
    _copy_tree(bundle, staging / INSTALL_DIR.lstrip("/"))
    usr_bin = staging / "usr" / "bin"
    usr_bin.mkdir(parents=True)
    for program in PROGRAMS:
        (usr_bin / program).symlink_to(f"{INSTALL_DIR}/{program}")
    _write(staging / "usr/share/applications" / f"{PACKAGE}.desktop", desktop_entry())
    for size in ICON_SIZES:
        target = staging / f"usr/share/icons/hicolor/{size}x{size}/apps/{PACKAGE}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(icons / f"{PACKAGE}-{size}.png", target)
        os.chmod(target, 0o644)
    _write(staging / f"usr/share/doc/{PACKAGE}/copyright", COPYRIGHT.format(homepage=HOMEPAGE))
    for folder, _dirs, _names in os.walk(staging):
        os.chmod(folder, 0o755)

    print("working out Depends (ldd + dpkg -S) ...")
    depends = compute_depends(bundle)
    control = (
        f"Package: {name}\n"
        f"Version: {version}\n"
        f"Provides: {PACKAGE}\n"
        f"Conflicts: {PACKAGE}\n"
        f"Replaces: {PACKAGE}\n"
        f"Architecture: {arch}\n"
        f"Maintainer: {MAINTAINER}\n"
        f"Installed-Size: {_installed_size_kib(staging)}\n"
        f"Depends: {depends}\n"
        f"Recommends: {', '.join(RECOMMENDED_PACKAGES)}\n"
        "Section: graphics\n"
        "Priority: optional\n"
        f"Homepage: {HOMEPAGE}\n"
        f"Description: {DESCRIPTION.format(build=FLAVOUR_DESCRIPTIONS[flavour])}\n"
    )
    debian = staging / "DEBIAN"
    _write(debian / "control", control)
    _write(debian / "postinst", POSTINST, 0o755)
    _write(debian / "postrm", POSTRM, 0o755)
    _write(debian / "md5sums", _md5sums(staging))
    print(control, end="")

    out_dir.mkdir(parents=True, exist_ok=True)
    deb = out_dir / f"{name}_{version}_{arch}.deb"
    command = [
        "dpkg-deb",
        "--root-owner-group",
        f"-Z{compression}",
        *([f"-z{level}"] if level is not None else []),
        "--build",
        str(staging),
        str(deb),
    ]
    print("+", " ".join(command), flush=True)
    subprocess.run(command, check=True)
    shutil.rmtree(staging)
    print(f"built {deb} ({deb.stat().st_size / 2**20:.0f} MiB)")
    return deb


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument(
        "--bundle",
        type=Path,
        default=ROOT / "build" / "dist" / PACKAGE,
        help="the PyInstaller folder (default: build/dist/sd21-desktop)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=ROOT / "build" / "installers",
        help="where the .deb goes (default: build/installers)",
    )
    parser.add_argument("--revision", default="1", help="Debian revision (default: 1)")
    parser.add_argument(
        "--compression",
        default="xz",
        choices=("xz", "zstd", "gzip", "none"),
        help="dpkg-deb compression (default xz; zstd needs dpkg >= 1.21.18)",
    )
    parser.add_argument(
        "--level", type=int, default=None, help="the compressor's level (default: dpkg-deb's)"
    )
    args = parser.parse_args(argv)
    build_deb(args.bundle, args.out, args.revision, args.compression, level=args.level)
    return 0


if __name__ == "__main__":
    sys.exit(main())
