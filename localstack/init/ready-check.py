"""docker-compose health check of LocalStack: healthy once its READY init
hooks have all run without error.

GET /_localstack/health says nothing about hooks, and the "completed" of
GET /_localstack/init/ready is true even when a hook failed, so this reads
each hook's state. The hooks named on the command line must be among them
(a missing mount is not healthy).

    python3 ready-check.py [URL] HOOK...
"""

import json
import sys
import urllib.request

DEFAULT_URL = "http://127.0.0.1:4566/_localstack/init/ready"


def problem(report, hooks):
    """Returns why report (the endpoint's JSON) is not healthy, or None."""
    if not report.get("completed"):
        return "READY hooks have not completed"
    states = {s.get("name"): s.get("state") for s in report.get("scripts") or []}
    failed = sorted(n for n, s in states.items() if s != "SUCCESSFUL")
    if failed:
        return "hooks not successful: " + ", ".join(f"{n} ({states[n]})" for n in failed)
    missing = sorted(h for h in hooks if h not in states)
    if missing:
        return "hooks did not run (is init/ready.d mounted?): " + ", ".join(missing)
    return None


def main(args):
    url = DEFAULT_URL
    if args and args[0].startswith("http"):
        url, args = args[0], args[1:]
    try:
        with urllib.request.urlopen(url, timeout=3) as resp:
            report = json.load(resp)
    except Exception as err:  # any failure to read the report is unhealthy
        print(f"{url}: {err}")
        return 1
    why = problem(report, args)
    if why:
        print(f"{url}: {why}")
        return 1
    print(f"{url}: every hook ran: " + ", ".join(sorted(args)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
