"""Record 802.11s captures made by ns-3's own mesh stack.

Builds tools/ns3/scenarios.cc against Debian's libns3-dev (installed when
missing and running as root) and runs each scenario, writing one pcap per
node: pcaps/ns3/<scenario>-<node>-1.pcap.

    python -m tools.ns3.record [--out pcaps/ns3] [SCENARIO...]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCENARIOS = ("proactive-line", "three-flows-line", "do-flag-line", "line-break", "flame")
PACKAGES = ("libns3-dev", "g++")
LIBDIR = Path("/usr/lib/x86_64-linux-gnu")


class Ns3Unavailable(RuntimeError):
    """ns-3 cannot be built against here, with the reason."""


def _installed(package: str) -> bool:
    status = subprocess.run(["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True)
    return "install ok installed" in status.stdout


def ensure_packages() -> None:
    missing = [p for p in PACKAGES if not _installed(p)]
    if not missing:
        return
    if os.geteuid() != 0:
        raise Ns3Unavailable(f"missing Debian packages {' '.join(missing)}; run as root to install them")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing], check=True, env=env)


def build(workdir: Path) -> Path:
    libs = sorted(LIBDIR.glob("libns3*.so"))
    if not libs:
        raise Ns3Unavailable(f"no libns3*.so in {LIBDIR}")
    binary = workdir / "scenarios"
    subprocess.run(["g++", "-O1", "-std=c++17", str(HERE / "scenarios.cc"), "-o", str(binary),
                    *[f"-l{lib.name[3:-3]}" for lib in libs]], check=True)
    return binary


def record(out: Path, scenarios: list[str]) -> list[Path]:
    ensure_packages()
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with tempfile.TemporaryDirectory() as tmp:
        binary = build(Path(tmp))
        for name in scenarios:
            run_dir = Path(tmp) / name
            run_dir.mkdir()
            subprocess.run([str(binary), f"--scenario={name}", f"--out={name}"], cwd=run_dir, check=True)
            for pcap in sorted(run_dir.glob("*.pcap")):
                written.append(Path(shutil.copy(pcap, out / pcap.name)))
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE.parents[1] / "pcaps" / "ns3")
    parser.add_argument("scenarios", nargs="*", metavar="SCENARIO", help=", ".join(SCENARIOS))
    args = parser.parse_args(argv)
    unknown = set(args.scenarios) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenario(s) {', '.join(sorted(unknown))}; known: {', '.join(SCENARIOS)}")
    try:
        for path in record(args.out, args.scenarios or list(SCENARIOS)):
            print(path)
    except Ns3Unavailable as exc:
        print(f"ns-3: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
