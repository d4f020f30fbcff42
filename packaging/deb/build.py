"""Build Debian packages for the agent and the bridge with Debian's own dpkg-deb.

Each package carries a private virtual environment in /opt/tocsin-agent or /opt/tocsin-bridge,
made with the host's /usr/bin/python3, so installing it never touches the host's Python packages.
The environment is built in a staging directory and relocated: scripts' interpreter lines and
byte-code paths are rewritten to the installed location, as dh-virtualenv does.

    python packaging/deb/build.py [--out DIR] [--version V] [--wheelhouse DIR] [agent|bridge ...]
"""

from __future__ import annotations

import argparse
import gzip
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
PYTHON = "/usr/bin/python3"
MAINTAINER = "Tocsin developers <tocsin@example.com>"


class BuildError(Exception):
    """A package could not be built; the message says which step and why."""


@dataclass(frozen=True)
class Package:
    """One binary package: its name, the extra it installs and the files it ships."""

    name: str
    requirement: str
    command: str
    unit: str
    extra_units: tuple[str, ...]
    config: str
    summary: str
    description: str

    @property
    def prefix(self) -> str:
        return f"/opt/{self.name}"


PACKAGES = {
    "agent": Package(
        name="tocsin-agent",
        requirement="tocsin",
        command="tocsin-agent",
        unit="tocsin-agent.service",
        extra_units=("tocsin-agent-shutdown.service",),
        config="agent.yml",
        summary="Tocsin host agent: metrics, threshold alerts, heartbeats",
        description=(
            "Samples CPU, memory, disk I/O, filesystems, load and network, serves /metrics\n"
            "for Prometheus, evaluates threshold rules and pushes alerts to a Tocsin bridge\n"
            "or an Alertmanager, spooling to disk while the receiver is unreachable."
        ),
    ),
    "bridge": Package(
        name="tocsin-bridge",
        requirement="tocsin[bridge]",
        command="tocsin-bridge",
        unit="tocsin-bridge.service",
        extra_units=(),
        config="bridge.yml",
        summary="Tocsin bridge: alerts to incidents, response-time clocks, paging",
        description=(
            "Receives alerts from agents, Prometheus and Alertmanager, opens prioritised\n"
            "incidents, keeps their response, update and resolution clocks, pages the people\n"
            "on call and reports how well the promises were kept."
        ),
    ),
}


def run(*command: str | Path, cwd: Path | None = None) -> None:
    """Run a build step, raising BuildError with its output when it fails."""
    result = subprocess.run(
        [str(part) for part in command], cwd=cwd, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        shown = " ".join(str(part) for part in command)
        raise BuildError(f"{shown}: exit {result.returncode}\n{result.stderr[-3000:]}")


def project_version() -> str:
    """Return the version pyproject.toml declares."""
    return str(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"])


def architecture() -> str:
    """Return dpkg's name for this machine's architecture (the environment holds C extensions)."""
    return subprocess.run(
        ["dpkg", "--print-architecture"], capture_output=True, text=True, check=True
    ).stdout.strip()


def build_wheel(out: Path) -> Path:
    """Build the project's wheel once; both packages install it."""
    run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", out, ROOT)
    return next(out.glob("tocsin-*.whl"))


def fill_wheelhouse(wheel: Path, wheelhouse: Path) -> None:
    """Download every dependency of both packages once, so builds after the first are offline.

    pip would take a project wheel already in the wheelhouse for this one, with its old
    dependencies, so the project's own wheel never stays there.
    """
    for stale in wheelhouse.glob("tocsin-*.whl"):
        stale.unlink()
    run(sys.executable, "-m", "pip", "download", "--quiet", "-d", wheelhouse, f"{wheel}[bridge]")
    for copied in wheelhouse.glob("tocsin-*.whl"):
        copied.unlink()


def make_environment(package: Package, stage: Path, wheel: Path, wheelhouse: Path) -> None:
    """Create the private environment in the staging tree and relocate it to its prefix."""
    env = stage / package.prefix.lstrip("/")
    run(PYTHON, "-m", "venv", "--without-pip", env)
    wanted = f"{wheel}[bridge]" if package.requirement.endswith("[bridge]") else str(wheel)
    run(
        sys.executable,
        "-m",
        "pip",
        "--python",
        env / "bin/python",
        "install",
        "--quiet",
        "--no-index",
        "--find-links",
        wheelhouse,
        "--no-compile",
        wanted,
    )
    relocate(env, package.prefix)
    tidy_libraries(env)


def tidy_libraries(env: Path) -> None:
    """Strip C extensions and make them non-executable, as Debian ships shared objects."""
    for path in env.rglob("*.so*"):
        if path.is_file() and not path.is_symlink():
            run("strip", "--strip-unneeded", "--remove-section=.comment", path)
            path.chmod(0o644)


def relocate(env: Path, prefix: str) -> None:
    """Point interpreter lines and activation scripts at the installed prefix."""
    staged = str(env)
    for path in (env / "bin").iterdir():
        if path.is_symlink() or not path.is_file():
            continue
        text = path.read_bytes()
        if staged.encode() in text:
            path.write_bytes(text.replace(staged.encode(), prefix.encode()))
    for pth in env.glob("lib/python3*/site-packages/*.pth"):
        pth.write_text(pth.read_text().replace(staged, prefix))


def write_control(package: Package, stage: Path, version: str) -> None:
    """Write DEBIAN/: control, conffiles and the maintainer scripts."""
    debian = stage / "DEBIAN"
    debian.mkdir()
    size_kib = sum(p.stat().st_size for p in stage.rglob("*") if p.is_file()) // 1024
    (debian / "control").write_text(
        f"Package: {package.name}\n"
        f"Version: {version}\n"
        f"Architecture: {architecture()}\n"
        f"Maintainer: {MAINTAINER}\n"
        f"Installed-Size: {size_kib}\n"
        "Depends: python3 (>= 3.11), libc6 (>= 2.28), adduser\n"
        "Section: admin\n"
        "Priority: optional\n"
        f"Description: {package.summary}\n"
        + "".join(f" {line}\n" for line in package.description.splitlines())
    )
    (debian / "conffiles").write_text(f"/etc/tocsin/{package.config}\n")
    for script in ("postinst", "prerm", "postrm"):
        units = " ".join((package.unit, *package.extra_units))
        text = (
            (HERE / script).read_text().replace("@PACKAGE@", package.name).replace("@UNITS@", units)
        )
        target = debian / script
        target.write_text(text)
        target.chmod(0o755)


def lay_out_files(package: Package, stage: Path, version: str) -> None:
    """Place the unit, the default config, the command link and the documentation."""
    unit_dir = stage / "lib/systemd/system"
    unit_dir.mkdir(parents=True)
    for name in (package.unit, *package.extra_units):
        unit = (ROOT / "systemd" / name).read_text()
        (unit_dir / name).write_text(
            unit.replace(
                f"/opt/tocsin/bin/{package.command}", f"{package.prefix}/bin/{package.command}"
            )
        )
    etc = stage / "etc/tocsin"
    etc.mkdir(parents=True)
    shutil.copy(HERE / package.config, etc / package.config)
    (etc / package.config).chmod(0o644)
    usr_bin = stage / "usr/bin"
    usr_bin.mkdir(parents=True)
    (usr_bin / package.command).symlink_to(f"{package.prefix}/bin/{package.command}")
    doc = stage / "usr/share/doc" / package.name
    doc.mkdir(parents=True)
    shutil.copy(HERE / "copyright", doc / "copyright")
    changelog = (
        f"{package.name} ({version}) unstable; urgency=medium\n\n"
        "  * Built from the Tocsin source tree by packaging/deb/build.py.\n\n"
        f" -- {MAINTAINER}  {formatdate(usegmt=False)}\n"
    )
    with gzip.GzipFile(doc / "changelog.gz", "wb", mtime=0) as out:
        out.write(changelog.encode())
    overrides = stage / "usr/share/lintian/overrides"
    overrides.mkdir(parents=True)
    text = (HERE / "lintian-overrides").read_text().replace("@PACKAGE@", package.name)
    (overrides / package.name).write_text(text)


def build(package: Package, out: Path, version: str, wheel: Path, wheelhouse: Path) -> Path:
    """Build one .deb into out and return its path."""
    with tempfile.TemporaryDirectory(prefix=f"{package.name}-") as tmp:
        stage = Path(tmp) / "root"
        stage.mkdir()
        os.chmod(stage, 0o755)
        make_environment(package, stage, wheel, wheelhouse)
        lay_out_files(package, stage, version)
        write_control(package, stage, version)
        target = out / f"{package.name}_{version}_{architecture()}.deb"
        run("dpkg-deb", "--root-owner-group", "-Zgzip", "--build", stage, target)
        return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the Tocsin Debian packages.")
    parser.add_argument("which", nargs="*", help="agent, bridge, or both (the default)")
    parser.add_argument("--out", type=Path, default=ROOT / "dist", help="where the .deb files go")
    parser.add_argument("--version", default=None, help="package version (default: pyproject's)")
    parser.add_argument(
        "--wheelhouse",
        type=Path,
        default=ROOT / "dist/wheelhouse",
        help="dependency wheels, downloaded on the first build and reused",
    )
    args = parser.parse_args(argv)
    unknown = sorted(set(args.which) - set(PACKAGES))
    if unknown:
        parser.error(f"unknown package {', '.join(unknown)}; choose from agent, bridge")
    version = args.version or project_version()
    args.out.mkdir(parents=True, exist_ok=True)
    args.wheelhouse.mkdir(parents=True, exist_ok=True)
    try:
        with tempfile.TemporaryDirectory(prefix="tocsin-wheel-") as tmp:
            wheel = build_wheel(Path(tmp))
            fill_wheelhouse(wheel, args.wheelhouse)
            for key in args.which or sorted(PACKAGES):
                print(build(PACKAGES[key], args.out, version, wheel, args.wheelhouse))
    except BuildError as exc:
        print(f"make deb: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
