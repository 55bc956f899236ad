"""Docker's HEALTHCHECK: GET /healthz of the web face on this machine; exit 0 when it answers 200.

Run as a file (`python bot/healthcheck.py`), not as a module: the slim image has no curl, and a
health check must not load the whole program every two minutes, so this needs only the standard
library. WEB_PORT (or PORT) says where the web face listens.
"""

import os
import sys
import urllib.error
import urllib.request

port = os.environ.get("WEB_PORT") or os.environ.get("PORT") or "8080"
try:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=20) as answer:
        sys.exit(0 if answer.status == 200 else 1)
except urllib.error.HTTPError as exc:  # 503: the body says why
    print(exc.read().decode("utf-8", "replace"))
    sys.exit(1)
except OSError as exc:
    print(f"web face not reachable on 127.0.0.1:{port}: {exc}")
    sys.exit(1)
