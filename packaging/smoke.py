"""Prove the built bundle works as a user gets it: `scripts/package --smoke` runs this.

Every check runs a read-only copy of dist/Engram (chmod -R a-w; when run as root, which
ignores permissions, the checks run as user `nobody`) with an empty data dir and no Python
environment, then compares the copy's file list, sizes and times before and after, so
"writes nothing inside its own folder" is measured, not assumed:

1. the terminal chat: one message to the built-in model, exit status 0 after a reply;
2. the window: offscreen, the time from starting the process to the main window being shown
   and exposed (two launches; the launcher's ENGRAM_SMOKE_WINDOW probe reports it);
3. optionally (`--shot DIR`, needs xvfb-run) a screenshot under Xvfb with the xcb platform,
   the one a Linux desktop uses, after the model has loaded and greeted.
"""

from __future__ import annotations

import functools
import os
import pwd
import shutil
import subprocess
import sysconfig
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

# one message to the model, then an archival search: MiniLM and LanceDB load inside the bundle
CHAT_INPUT = "hi\n/archival my sister\n/exit\n"
CHAT_TIMEOUT_S = 300
WINDOW_TIMEOUT_S = 120
SHOT_HOLD_S = 25


@dataclass
class SmokeResult:
    chat_ok: bool = False
    chat_reply: str = ""
    chat_s: float = 0.0
    window_times: list[float] = field(default_factory=list)
    bundle_unchanged: bool = False
    libraries_ok: bool = False
    screenshot: str = ""
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        window_ok = len(self.window_times) >= 1
        return self.chat_ok and window_ok and self.bundle_unchanged and self.libraries_ok


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every path under `folder` with its size and mtime: what "unchanged" is compared on."""
    found: dict[str, tuple[int, int]] = {}
    for path in folder.rglob("*"):
        info = path.lstat()
        found[str(path.relative_to(folder))] = (info.st_size, info.st_mtime_ns)
    return found


class Sandbox:
    """A read-only copy of the bundle, a fresh HOME and data dir per run, and the user the
    runs happen as (nobody when we are root, so that read-only really is read-only)."""

    def __init__(self, bundle: Path) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="engram-smoke-"))
        self.root.chmod(0o755)
        self.bundle = self.root / "Engram"
        shutil.copytree(bundle, self.bundle, symlinks=True)
        subprocess.run(["chmod", "-R", "a-w,a+rX", str(self.bundle)], check=True)
        self.user = pwd.getpwnam("nobody") if os.geteuid() == 0 else None
        self.before = snapshot(self.bundle)
        self._runs = 0

    def fresh_home(self) -> Path:
        self._runs += 1
        home = self.root / f"home{self._runs}"
        home.mkdir(mode=0o700)
        if self.user is not None:
            os.chown(home, self.user.pw_uid, self.user.pw_gid)
        return home

    def env(self, home: Path, **extra: str) -> dict[str, str]:
        keep = {k: v for k, v in os.environ.items() if k in ("LANG", "LC_ALL", "TERM", "TZ")}
        return {"PATH": "/usr/bin:/bin", "HOME": str(home), "ENGRAM_HOME": str(home / "data"),
                "XDG_RUNTIME_DIR": str(home), **keep, **extra}  # fmt: skip

    def command(self, *args: str) -> list[str]:
        exe = [str(self.bundle / "engram"), *args]
        if self.user is None:
            return exe
        ids = ["--reuid", str(self.user.pw_uid), "--regid", str(self.user.pw_gid)]
        return ["setpriv", *ids, "--clear-groups", *exe]

    def unchanged(self) -> bool:
        return snapshot(self.bundle) == self.before

    def remove(self) -> None:
        subprocess.run(["chmod", "-R", "u+w", str(self.root)], check=False)
        shutil.rmtree(self.root, ignore_errors=True)


def unresolved_libraries(bundle: Path) -> dict[str, list[str]]:
    """Shared libraries in the bundle whose dependencies resolve neither inside it nor on this
    system (ldd "not found"), and dangling links: what would fail only when first loaded."""
    internal = bundle / "_internal"
    env = {**os.environ, "LD_LIBRARY_PATH": str(internal)}
    found: dict[str, list[str]] = {}
    for path in sorted(internal.rglob("*.so*")):
        rel = str(path.relative_to(internal))
        if path.is_symlink() and not path.exists():
            found[rel] = ["(dangling link)"]
            continue
        if not path.is_file():
            continue
        done = subprocess.run(["ldd", str(path)], env=env, capture_output=True, text=True)
        missing = [ln.split()[0] for ln in done.stdout.splitlines() if "not found" in ln]
        if missing:
            found[rel] = missing
    return found


def lost_by_bundling(missing: list[str]) -> bool:
    """Whether a missing library is one the build environment had (so the bundle dropped it),
    rather than a system library a desktop provides (libwayland-cursor, libtbb...)."""
    return any(name in _site_library_names() for name in missing)


@functools.cache
def _site_library_names() -> frozenset[str]:
    return frozenset(p.name for p in Path(sysconfig.get_paths()["purelib"]).rglob("*.so*"))


def check_chat(box: Sandbox, result: SmokeResult) -> None:
    home = box.fresh_home()
    began = time.monotonic()
    done = subprocess.run(
        box.command("--chat"), input=CHAT_INPUT, env=box.env(home), capture_output=True,
        text=True, timeout=CHAT_TIMEOUT_S, check=False,
    )  # fmt: skip
    result.chat_s = time.monotonic() - began
    prefix = "engram> "
    lines = done.stdout.splitlines()
    replies = [ln.removeprefix(prefix).strip() for ln in lines if ln.startswith(prefix)]
    replies = [text for text in replies if text]
    result.chat_reply = replies[-1] if replies else ""
    errors = [ln for ln in lines if ln.startswith("error:")]
    result.chat_ok = done.returncode == 0 and bool(replies) and not errors
    if not result.chat_ok:
        result.problems.append(
            f"chat: exit {done.returncode}, {errors}, stderr: {done.stderr[-2000:]}"
        )


def launch_window(box: Sandbox, env: dict[str, str], wrapper: list[str]) -> tuple[float, str]:
    """Start the GUI with the probe; seconds until the window is visible (-1 if never)."""
    began = time.monotonic()
    proc = subprocess.Popen(
        [*wrapper, *box.command()], env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    visible = -1.0
    lines: list[str] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line)
        if line.startswith("ENGRAM_WINDOW_VISIBLE") and visible < 0:
            visible = time.monotonic() - began
    try:
        code = proc.wait(timeout=WINDOW_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        code = -9
    tail = "".join(lines[-30:])
    return (visible if code == 0 else -1.0), tail


def check_window(box: Sandbox, result: SmokeResult, launches: int = 3) -> None:
    for _ in range(launches):
        home = box.fresh_home()
        env = box.env(home, QT_QPA_PLATFORM="offscreen", ENGRAM_SMOKE_WINDOW="1")
        seconds, tail = launch_window(box, env, [])
        if seconds < 0:
            result.problems.append(f"window: never visible; output:\n{tail}")
            return
        result.window_times.append(seconds)


def take_screenshot(box: Sandbox, result: SmokeResult, out_dir: Path) -> None:
    """The bundle under Xvfb with the xcb platform plugin, after the demo model greets."""
    if not shutil.which("xvfb-run"):
        result.problems.append("screenshot: xvfb-run not installed (apt-get install xvfb)")
        return
    home = box.fresh_home()
    shot = home / "engram-bundle.png"
    env = box.env(home, QT_QPA_PLATFORM="xcb", ENGRAM_SMOKE_WINDOW="1",
                  ENGRAM_SMOKE_SHOT=str(shot), ENGRAM_SMOKE_HOLD=str(SHOT_HOLD_S))  # fmt: skip
    # -ac: the app runs as another user (nobody) than xvfb-run's auth file belongs to
    wrapper = ["xvfb-run", "-a", "-s", "-ac -screen 0 1400x900x24"]
    seconds, tail = launch_window(box, env, wrapper)
    if seconds < 0 or not shot.exists():
        result.problems.append(f"screenshot under Xvfb failed; output:\n{tail}")
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / "engram-bundle-xvfb.png"
    shutil.copyfile(shot, target)
    result.screenshot = str(target)
    print(f"xcb window visible after {seconds:.2f} s; screenshot {target}")


def run_smoke(bundle: Path, shot_dir: Path | None = None) -> SmokeResult:
    result = SmokeResult()
    unresolved = unresolved_libraries(bundle)
    print(f"libraries with unresolved dependencies: {len(unresolved)}")
    for rel, missing in unresolved.items():
        print(f"  {rel}: {' '.join(sorted(set(missing)))}")
    fatal = [rel for rel, missing in unresolved.items() if lost_by_bundling(missing)]
    result.libraries_ok = not fatal
    if fatal:
        result.problems.append(f"libraries that cannot load: {', '.join(fatal)}")
    box = Sandbox(bundle)
    try:
        check_chat(box, result)
        print(f"chat: ok={result.chat_ok} in {result.chat_s:.1f} s, reply: {result.chat_reply!r}")
        check_window(box, result)
        shown = ", ".join(f"{s:.2f} s" for s in result.window_times)
        print(f"window visible after: {shown} (window_visible_s is the median)")
        if shot_dir is not None:
            take_screenshot(box, result, shot_dir)
        result.bundle_unchanged = box.unchanged()
        print(f"read-only bundle unchanged: {result.bundle_unchanged}"
              f" (ran as {'nobody' if box.user else 'this user'})")  # fmt: skip
    finally:
        box.remove()
    for problem in result.problems:
        print(f"PROBLEM {problem}")
    return result
