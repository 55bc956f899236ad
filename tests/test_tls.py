"""One TLS context per process, loaded on a thread while a command starts (bot.tls)."""

from __future__ import annotations

import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import certifi
import pytest

import bot.tls
from bot.settings import PROJECT_ROOT


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str | None, str | None]]]:
    """No context loaded yet; each load's (cafile, capath) recorded."""
    monkeypatch.setattr(bot.tls, "_context", None)
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    loads: list[tuple[str | None, str | None]] = []
    real = ssl.create_default_context

    def counting(*, cafile: str | None = None, capath: str | None = None) -> ssl.SSLContext:
        loads.append((cafile, capath))
        return real(cafile=cafile, capath=capath)

    monkeypatch.setattr(bot.tls.ssl, "create_default_context", counting)
    yield loads


def test_a_preloaded_context_is_the_one_every_caller_gets_and_it_verifies(
    fresh: list[tuple[str | None, str | None]],
) -> None:
    bot.tls.preload_tls_context()
    contexts = []
    callers = [
        threading.Thread(target=lambda: contexts.append(bot.tls.tls_context())) for _ in range(8)
    ]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join()
    assert len({id(c) for c in contexts}) == 1
    assert fresh == [(certifi.where(), None)]  # loaded once, from certifi's bundle
    context = contexts[0]
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert context.cert_store_stats()["x509_ca"] > 100
    bot.tls.preload_tls_context()  # loaded: nothing more to do
    assert bot.tls.tls_context() is context and len(fresh) == 1


def test_ssl_cert_file_names_the_bundle(
    fresh: list[tuple[str | None, str | None]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pem = Path(certifi.where()).read_text(encoding="ascii")
    end = "-----END CERTIFICATE-----\n"
    one = tmp_path / "one.pem"
    one.write_text(pem[pem.index("-----BEGIN CERTIFICATE-----") : pem.index(end) + len(end)])
    monkeypatch.setenv("SSL_CERT_FILE", str(one))
    assert bot.tls.tls_context().cert_store_stats()["x509_ca"] == 1
    assert fresh == [(str(one), None)]


def test_ssl_cert_dir_names_the_folder(
    fresh: list[tuple[str | None, str | None]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path))
    bot.tls.tls_context()
    assert fresh == [(None, str(tmp_path))]


def test_a_command_that_exits_while_the_bundle_loads_exits_cleanly() -> None:
    # A daemon thread inside OpenSSL at exit crashed the process (SIGSEGV instead of the exit
    # code 2 of a configuration error) nearly every time: CI caught `run` doing so.
    script = (
        "import sys, time\n"
        "from bot.tls import preload_tls_context\n"
        "preload_tls_context()\n"
        "time.sleep(float(sys.argv[1]))\n"
        "sys.exit(2)\n"
    )
    codes = [
        subprocess.run(
            [sys.executable, "-c", script, str(delay)], cwd=PROJECT_ROOT, check=False
        ).returncode
        for delay in (0, 0.001, 0.003, 0.005, 0.008) * 2
    ]
    assert codes == [2] * 10
