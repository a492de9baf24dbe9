"""Run a Mosquitto broker as a child process: start, wait for its port, SIGHUP reload, stop, kill."""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import IO

from .config import find_dynsec_plugin, render_config, write_initial_dynsec_config

_CANDIDATES = ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto", "/opt/homebrew/sbin/mosquitto")


class MosquittoNotFound(RuntimeError):
    """The mosquitto executable is not installed or not on PATH."""


class BrokerFailed(RuntimeError):
    """The broker exited or did not open its port in time."""


def find_mosquitto() -> str:
    """Return the path of the mosquitto executable ($MOSQUITTO, PATH, then the usual sbin dirs)."""
    explicit = os.environ.get("MOSQUITTO")
    if explicit:
        if os.access(explicit, os.X_OK):
            return explicit
        raise MosquittoNotFound(f"$MOSQUITTO={explicit!r} is not an executable")
    found = shutil.which("mosquitto")
    if found:
        return found
    for candidate in _CANDIDATES:
        if os.access(candidate, os.X_OK):
            return candidate
    raise MosquittoNotFound(
        "mosquitto not found: install it (Debian/Ubuntu: `apt-get install mosquitto`, "
        "or `make setup`) or point $MOSQUITTO at the executable"
    )


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that was free on `host` a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_for_port(host: str, port: int, timeout: float) -> bool:
    """Return True once `host:port` accepts a TCP connection, False after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)


class BrokerProcess:
    """One mosquitto child process with its config, password file, ACL and data in `run_dir`.

    Write the users (`PasswordFile(broker.password_file)`) and the ACL
    (`AclFile(company).write(broker.acl_file)`) before `start()`; after a
    change, `reload()`. With `dynsec=True` the broker also loads the
    dynamic-security plugin on `dynamic-security.json` (created empty if
    missing, then owned by the broker). `command_prefix` runs the broker under
    another command, e.g. `ip netns exec NS` (which execs, so `pid` is the
    broker's own).
    """

    def __init__(
        self,
        run_dir: Path | str,
        port: int | None = None,
        *,
        bind: str = "127.0.0.1",
        host: str = "127.0.0.1",
        persistence: bool = True,
        executable: str | None = None,
        start_timeout: float = 10.0,
        dynsec: bool = False,
        command_prefix: tuple[str, ...] = (),
    ) -> None:
        """Describe the broker; nothing runs until `start()`. `port=None` picks a free one."""
        self.run_dir = Path(run_dir)
        self.port = port if port is not None else free_port(host)
        self.bind = bind
        self.host = host
        self.persistence = persistence
        self.executable = executable
        self.start_timeout = start_timeout
        self.dynsec = dynsec
        self.command_prefix = tuple(command_prefix)
        self.password_file = self.run_dir / "passwd"
        self.acl_file = self.run_dir / "acl"
        self.config_file = self.run_dir / "mosquitto.conf"
        self.data_dir = self.run_dir / "data"
        self.log_file = self.run_dir / "mosquitto.log"
        self.output_file = self.run_dir / "mosquitto.out"  # stdout/stderr: start-up errors
        self.dynsec_file = self.run_dir / "dynamic-security.json"
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def pid(self) -> int | None:
        """The broker's process id while it runs."""
        return self._proc.pid if self.running and self._proc is not None else None

    @property
    def running(self) -> bool:
        """Whether the broker process is alive."""
        return self._proc is not None and self._proc.poll() is None

    def write_config(self) -> Path:
        """Write `mosquitto.conf` into the run dir and return its path."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # As root, mosquitto would switch to the `mosquitto` user and lose access to our files.
        user = getpass.getuser() if os.geteuid() == 0 else None
        if self.dynsec:
            write_initial_dynsec_config(self.dynsec_file)
        text = render_config(
            self.port,
            self.data_dir,
            self.password_file,
            self.acl_file,
            bind=self.bind,
            persistence=self.persistence,
            # A file, not stdout: mosquitto's stdout to a pipe or file is block-buffered.
            log_file=self.log_file,
            run_as_user=user,
            dynsec_plugin=find_dynsec_plugin() if self.dynsec else None,
            dynsec_file=self.dynsec_file if self.dynsec else None,
        )
        self.config_file.write_text(text, encoding="utf-8")
        return self.config_file

    def start(self) -> BrokerProcess:
        """Start the broker and return once its port accepts connections (BrokerFailed otherwise)."""
        if self.running:
            return self
        for required in (self.password_file, self.acl_file):
            if not required.exists():
                raise BrokerFailed(f"{required} is missing: write it before starting the broker")
        executable = self.executable or find_mosquitto()
        self.write_config()
        self._log = open(self.output_file, "ab")  # noqa: SIM115 - kept open for the child's lifetime
        self._proc = subprocess.Popen(
            [*self.command_prefix, executable, "-c", str(self.config_file)],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                break
            if wait_for_port(self.host, self.port, 0.1):
                return self
        self.kill()
        raise BrokerFailed(f"mosquitto did not start on {self.host}:{self.port}; log:\n{self.log_tail()}")

    def reload(self) -> None:
        """Send SIGHUP: the broker re-reads its password file and ACL without dropping anyone.

        The signal is handled on the broker's next loop turn, so the new
        rules apply a moment after this returns, not at once.
        """
        self._signal(signal.SIGHUP)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the broker: SIGTERM (it saves its persistence file), SIGKILL after `timeout`."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._close_log()

    def kill(self) -> None:
        """Kill the broker at once (SIGKILL), as a crash would: nothing is saved."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        self._close_log()

    def restart(self) -> None:
        """Stop the broker and start it again on the same port."""
        self.stop()
        self.start()

    def log_tail(self, lines: int = 40) -> str:
        """Return the last `lines` lines of the broker's output and log."""
        text = []
        for file in (self.output_file, self.log_file):
            if file.exists():
                text += file.read_text(encoding="utf-8", errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def _signal(self, signum: int) -> None:
        if self._proc is None or self._proc.poll() is not None:
            raise BrokerFailed("the broker is not running")
        self._proc.send_signal(signum)

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> BrokerProcess:
        """Start the broker."""
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the broker."""
        self.stop()
