"""The process's one TLS client context, and loading it while a command is still starting.

httpx's defaults, kept: certificates verified against certifi's CA bundle, or the file or
folder named by SSL_CERT_FILE or SSL_CERT_DIR (the conventional variables httpx honoured when it
built its own contexts). Loading a bundle takes 15-20 ms, which every client and transport would
otherwise spend again; one context is safe to share between threads.

Nearly all of a load is OpenSSL parsing certificates with the GIL released, so a command that is
going to talk HTTP starts it on a thread (`preload_tls_context`) before it imports its modules,
and finds it done when the first client is built: 15-20 ms less before a `poll` starts.
"""

from __future__ import annotations

import os
import ssl
import threading

_lock = threading.Lock()
_context: ssl.SSLContext | None = None


def _bundle() -> tuple[str | None, str | None]:
    """(cafile, capath) to verify with. Found on the caller's thread: certifi may import."""
    if cafile := os.environ.get("SSL_CERT_FILE"):
        return cafile, None
    if capath := os.environ.get("SSL_CERT_DIR"):
        return None, capath
    import certifi

    return certifi.where(), None


def _load(cafile: str | None, capath: str | None) -> ssl.SSLContext:
    global _context
    with _lock:  # a second caller waits for the first load rather than starting its own
        if _context is None:
            _context = ssl.create_default_context(cafile=cafile, capath=capath)
        return _context


def tls_context() -> ssl.SSLContext:
    """The shared context (waiting for a preload under way)."""
    context = _context
    return context if context is not None else _load(*_bundle())


def preload_tls_context() -> None:
    """Start loading the shared context on a thread, unless it is loaded.

    Not a daemon thread: the interpreter waits for it before shutting down (at most the load's
    20 ms). A command that fails right away would otherwise exit while OpenSSL is parsing on
    the thread, and OpenSSL's exit handlers then crash the process (SIGSEGV instead of exit 2;
    tests/test_tls.py)."""
    if _context is None:
        threading.Thread(target=_load, args=_bundle(), name="tls-preload").start()
