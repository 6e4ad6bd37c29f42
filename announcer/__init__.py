"""The announcer: exabgp's API process in each LB pod.

``config`` (services and their VIPs) -> ``state`` (which routes should be announced, and
the commands that get exabgp there; pure) -> ``exabgp`` (the stdin/stdout API channel).
stdout belongs to exabgp: logs go to stderr only, and nothing here calls print().
"""

import sys

# structlog.dev imports rich whenever it is installed (a venv has it, for import-linter; the
# images do not): ~4.5 MB of RSS the announcer never uses, as lbroute.logs turns exc_info into
# text (format_exc_info) before any renderer sees it. So the announcer, like the image, goes
# without; a process that imported structlog first (a test session) is left as it is.
if "structlog" not in sys.modules and "rich" not in sys.modules:
    sys.modules["rich"] = None  # type: ignore[assignment]
