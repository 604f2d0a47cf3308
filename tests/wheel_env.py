"""The built wheel installed in a fresh venv in a temp dir, run from outside the checkout (`python -I`).

The wheel is built from this checkout (`pip wheel --no-deps`) and installed with `--no-deps` into a new venv;
the third-party dependencies are read from the test venv's site-packages as a plain path line in a `.pth`
file, so the machine needs no network and the test venv's editable hook (which would point back into this
checkout) is never loaded. `installed_from_venv` asserts the packages really import from the fresh venv.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class WheelVenv:
    root: Path
    python: Path
    heartbeat: Path
    work: Path  # an empty directory outside the checkout, the cwd of every command

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            k: v for k, v in os.environ.items() if not k.startswith(("HEARTBEAT_", "PYTHON", "VIRTUAL_ENV"))
        }
        env["PATH"] = f"{self.python.parent}{os.pathsep}{env.get('PATH', '')}"
        env["HEARTBEAT_HOME"] = str(self.work / "home")
        env["PYTHONIOENCODING"] = "utf-8"
        env.update(extra)
        return env

    def run(
        self, *args: str, cwd: Path | None = None, timeout: float = 300, **extra: str
    ) -> subprocess.CompletedProcess[str]:
        """`python -I -m heartbeat_cli ARGS` with the fresh venv's interpreter."""
        return subprocess.run(
            [str(self.python), "-I", "-m", "heartbeat_cli", *args],
            cwd=cwd or self.work,
            env=self.env(**extra),
            capture_output=True,
            text=True,
            timeout=timeout,
        )


def build_wheel_venv(tmp: Path) -> WheelVenv:
    wheels = tmp / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(REPO_ROOT)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    (wheel,) = wheels.glob("heartbeat-*.whl")
    root = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(root)], check=True, timeout=300)  # ensurepip: offline
    python = root / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(python), "-I", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    subprocess.run(
        [str(python), "-I", "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    (site / "zz_test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    work = tmp / "work"
    work.mkdir()
    return WheelVenv(root, python, root / "bin" / "heartbeat", work)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
