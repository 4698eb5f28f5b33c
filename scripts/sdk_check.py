#!/usr/bin/env python3
"""Drive the reference server with the official getimg Python SDK (PyPI `getimg`).

Checks, through the SDK's own client pointed at the server with `base_url`:
  * each error status raises the SDK exception class the SDK maps it to
    (400 BadRequestError, 401 AuthenticationError, 402 APIStatusError, 404 NotFoundError,
    422 UnprocessableEntityError, 429 RateLimitError, 500 InternalServerError), and the
    exception's `body` is our envelope with the expected `code` and `param`;
  * 429 and 500 are retried as the SDK is built to (attempts counted on the wire, Retry-After
    honoured), and nothing else is retried;
  * success bodies parse into the SDK's response types with strict validation on.

Self-contained: installs the SDK into a venv under target/ on first use, starts
`cargo run --release -- serve` on a free loopback port (or uses --addr), prints a table and
exits non-zero on any mismatch.

    python3 scripts/sdk_check.py                 # build, start, check, stop
    python3 scripts/sdk_check.py --addr 127.0.0.1:4010   # against a running `serve`

Against a running server, start it with `--rate-window-secs 1`: the SDK waits Retry-After
seconds between 429 retries, and with the default 60 s window that is up to a minute each.
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / "target" / "sdk-check-venv"
SDK_REQUIREMENT = "getimg>=0.4,<0.5"
RETRIES = 2  # the SDK default is 5; 2 keeps the run short and still shows the retrying

DEFAULT_KEYS = {
    "valid": "sk_test_errcontract_valid",
    "zero_balance": "sk_test_errcontract_zero_balance",
    "revoked": "sk_test_errcontract_revoked",
    "throttled": "sk_test_errcontract_throttled",
}


def venv_python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def ensure_sdk() -> None:
    """Import the SDK, or install it into target/sdk-check-venv and re-run this script there."""
    try:
        import getimg  # noqa: F401

        return
    except ImportError:
        pass
    if Path(sys.prefix).resolve() == VENV.resolve():
        sys.exit(f"error: {SDK_REQUIREMENT} is not importable even inside {VENV}")
    if not venv_python().exists():
        print(f"creating {VENV.relative_to(ROOT)} and installing {SDK_REQUIREMENT} ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run(
            [str(venv_python()), "-m", "pip", "install", "--quiet", SDK_REQUIREMENT],
            check=True,
        )
    os.execv(str(venv_python()), [str(venv_python()), __file__, *sys.argv[1:]])


def free_port() -> int:
    """A free port below the kernel's ephemeral range, so a server some other process binds to
    port 0 meanwhile cannot take it before ours starts."""
    low = 32768
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        pass
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(10000, max(low, 10001))
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    sys.exit("error: found no free port for the server")


def wait_for(addr: str, proc: subprocess.Popen | None, log: Path | None, timeout: float) -> None:
    """Wait until `addr` accepts connections; for a server we started, also until its banner
    names `addr`, so a stranger on the port is never mistaken for it."""
    host, port = addr.rsplit(":", 1)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            tail = log.read_text(errors="replace")[-4000:] if log else ""
            sys.exit(f"error: the server exited with {proc.returncode} before listening:\n{tail}")
        ours = log is None or f"http://{addr}" in log.read_text(errors="replace")
        if ours:
            try:
                with socket.create_connection((host, int(port)), timeout=1):
                    return
            except OSError:
                pass
        time.sleep(0.25)
    sys.exit(f"error: nothing listens on {addr} after {timeout:.0f} s")


def start_server() -> tuple[str, subprocess.Popen, Path]:
    log = ROOT / "target" / "sdk-check-serve.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    # Build first: a cold release build takes minutes, and the port is chosen only once the
    # server can start at once.
    print("building: cargo build --release ...", flush=True)
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    addr = f"127.0.0.1:{free_port()}"
    cmd = [
        "cargo", "run", "--release", "--quiet", "--",
        "serve", "--addr", addr, "--rate-window-secs", "1",
    ]
    print(f"starting: {' '.join(cmd)} (log: {log.relative_to(ROOT)})", flush=True)
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    wait_for(addr, proc, log, timeout=120)
    return addr, proc, log


class Wire:
    """Counts the requests the SDK really sends, and remembers the last response's headers."""

    def __init__(self) -> None:
        self.attempts = 0
        self.retry_after: list[str] = []

    def reset(self) -> None:
        self.attempts = 0
        self.retry_after = []

    def on_request(self, request) -> None:  # httpx event hook
        self.attempts += 1

    def on_response(self, response) -> None:  # httpx event hook
        value = response.headers.get("retry-after")
        if value is not None:
            self.retry_after.append(value)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--addr", help="use a running server (host:port) instead of starting one")
    for role, key in DEFAULT_KEYS.items():
        env = f"ERRCONTRACT_REFERENCE_{role.upper()}_KEY"
        parser.add_argument(f"--{role.replace('_', '-')}-key", default=os.environ.get(env, key))
    args = parser.parse_args()

    ensure_sdk()
    import datetime as dt

    import getimg
    import httpx

    proc = None
    if args.addr:
        addr = args.addr
        wait_for(addr, None, None, timeout=10)
    else:
        addr, proc, _ = start_server()
    base_url = f"http://{addr}"
    wire = Wire()

    def client(key: str) -> getimg.GetimgAI:
        http = getimg.DefaultHttpxClient(
            event_hooks={"request": [wire.on_request], "response": [wire.on_response]}
        )
        return getimg.GetimgAI(
            api_key=key,
            base_url=base_url,
            max_retries=RETRIES,
            http_client=http,
            _strict_response_validation=True,
        )

    valid = client(args.valid_key)
    zero = client(args.zero_balance_key)
    revoked = client(args.revoked_key)
    throttled = client(args.throttled_key)
    unknown = client("sk_not_a_key")
    fault = {"X-Errcontract-Fault": "server_error"}
    lite = "seedream-5-lite"

    def poll_twice(c: getimg.GetimgAI, video_id: str):
        c.videos.generations.retrieve(video_id)
        return c.videos.generations.retrieve(video_id)

    def video_then(prompt: str):
        created = valid.videos.generations.create(model="seedance-v1-pro", prompt=prompt)
        return poll_twice(valid, created.id)

    # (name, expected status, expected class name, expected code, expected param,
    #  expected attempts, call)
    error_cases = [
        ("400 unsupported resolution", 400, "BadRequestError", "invalid_parameter", "resolution", 1,
         lambda: valid.images.generate(model=lite, prompt="x", resolution="4K")),
        ("400 missing video role", 400, "BadRequestError", "parameter_missing", "images[0].role", 1,
         lambda: valid.videos.generations.create(
             model="seedance-v1-pro", prompt="x", images=[{"url": "https://example.com/a.png"}])),
        ("400 prompt too long", 400, "BadRequestError", "invalid_parameter", "prompt", 1,
         lambda: valid.images.generate(model=lite, prompt="x" * 4097)),
        ("401 unknown key", 401, "AuthenticationError", "invalid_api_key", None, 1,
         lambda: unknown.models.list()),
        ("401 revoked key", 401, "AuthenticationError", "invalid_api_key", None, 1,
         lambda: revoked.billing.retrieve_balance()),
        ("402 zero balance", 402, "APIStatusError", "quota_exceeded", None, 1,
         lambda: zero.images.generate(model=lite, prompt="x")),
        ("404 unknown video id", 404, "NotFoundError", "not_found", "id", 1,
         lambda: valid.videos.generations.retrieve("req-01HXYZVIDEO1234")),
        ("404 unknown model", 404, "NotFoundError", "not_found", "model", 1,
         lambda: valid.models.retrieve("seedream-9")),
        ("422 content policy", 422, "UnprocessableEntityError", "content_policy_violation", "prompt", 1,
         lambda: valid.images.generate(model=lite, prompt="errcontract-trigger:content-policy")),
        ("429 throttled (retried)", 429, "RateLimitError", "rate_limit", None, 1 + RETRIES,
         lambda: throttled.images.generate(model=lite, prompt="x")),
        ("500 fault header (retried)", 500, "InternalServerError", "server_error", None, 1 + RETRIES,
         lambda: valid.models.list(extra_headers=fault)),
    ]
    now = dt.datetime.now(dt.timezone.utc)
    success_cases = [
        ("200 image generation", "ImageGenerateResponse",
         lambda: valid.images.generate(model=lite, prompt="a lighthouse", output_format="png")),
        ("202 video, polled to completed", "VideoGenerationCompletedResponse",
         lambda: video_then("waves")),
        ("202 video, polled to failed", "VideoGenerationFailedResponse",
         lambda: video_then("errcontract-trigger:video-failure")),
        ("200 models list", "list", lambda: valid.models.list(type="video")),
        ("200 model", "ModelRetrieveResponse", lambda: valid.models.retrieve(lite)),
        ("200 balance", "BillingRetrieveBalanceResponse", lambda: valid.billing.retrieve_balance()),
        ("200 costs", "BillingListCostsResponse",
         lambda: valid.billing.list_costs(start=now - dt.timedelta(days=1), end=now)),
    ]

    rows = []
    failures = 0
    for name, status, cls, code, param, attempts, call in error_cases:
        wire.reset()
        started = time.monotonic()
        got_cls, got_status, got_code, got_param, problem = "(no exception)", "-", "-", "-", ""
        try:
            call()
            problem = "no exception raised"
        except getimg.APIStatusError as e:
            got_cls, got_status = type(e).__name__, e.status_code
            # The SDK hands over the whole parsed body: it must be our envelope.
            error = e.body.get("error") if isinstance(e.body, dict) else None
            if not isinstance(error, dict):
                error = {}
            got_code, got_param = error.get("code"), error.get("param")
            if not error or error.get("type") != "invalid_request_error" or not error.get("message"):
                problem = f"body is not the envelope: {e.body!r}"[:120]
            elif got_cls != cls or got_status != status:
                problem = f"expected {cls} / {status}"
            elif got_code != code or got_param != param:
                problem = f"expected code {code}, param {param}"
            elif wire.attempts != attempts:
                problem = f"expected {attempts} attempts"
        except Exception as e:  # noqa: BLE001 - any other failure is a finding
            got_cls, problem = type(e).__name__, str(e)[:80]
        elapsed = time.monotonic() - started
        retry_after = ",".join(wire.retry_after) or "-"
        failures += bool(problem)
        rows.append((name, got_cls, str(got_status), f"{got_code}/{got_param}",
                     f"{wire.attempts} ({elapsed:.1f}s, Retry-After {retry_after})",
                     "FAIL: " + problem if problem else "ok"))
    for name, expected_type, call in success_cases:
        wire.reset()
        problem, got = "", "-"
        try:
            result = call()
            got = type(result).__name__
            if got != expected_type:
                problem = f"expected {expected_type}"
            if name.startswith("200 image"):
                # The signed URL serves a real PNG, without a key.
                file = httpx.get(result.data[0].url)
                if file.status_code != 200 or not file.content.startswith(b"\x89PNG"):
                    problem = f"download gave {file.status_code}"
        except Exception as e:  # noqa: BLE001
            got, problem = type(e).__name__, str(e)[:80]
        failures += bool(problem)
        rows.append((name, got, "-", "-", str(wire.attempts), "FAIL: " + problem if problem else "ok"))

    if proc is not None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()

    header = ("scenario", "SDK result", "status", "code/param", "attempts", "verdict")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    print(f"getimg {getimg.__version__} against {base_url} (max_retries={RETRIES})")
    for row in [header, *rows]:
        print("  ".join(str(cell).ljust(w) for cell, w in zip(row, widths)).rstrip())
    print(f"{len(rows) - failures}/{len(rows)} as expected")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
