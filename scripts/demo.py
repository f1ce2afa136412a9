"""The README's first command: the core client against the local inbox.

Starts the inbox on a free port, sends the five operations in background and sync
mode, and prints what the inbox received, with PostHog's merge of the two ids.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import posthog_web
from posthog_web.events import uuid7
from posthog_web.inbox import InboxServer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keep-running", action="store_true", help="leave the inbox up")
    parser.add_argument("--port", type=int, default=0, help="inbox port (default: a free one)")
    args = parser.parse_args(argv)

    inbox = InboxServer(port=args.port).start()
    print(f"inbox listening on {inbox.url}")
    anonymous = uuid7()
    background = posthog_web.Client("phc_demo", host=inbox.url)
    background.page(
        distinct_id=anonymous,
        name="Pricing",
        url="https://shop.example.com/pricing?utm_source=newsletter",
    )
    background.capture("plan_compared", distinct_id=anonymous, properties={"plans": ("a", "b")})
    background.identify(
        distinct_id="user_42", properties={"email": "ada@example.com"}, anon_distinct_id=anonymous
    )
    background.capture("purchase_completed", distinct_id="user_42", properties={"amount": 49})
    delivered = background.flush(timeout=10)
    print(f"background client: flushed={delivered} stats={background.stats()}")

    sync = posthog_web.Client("phc_demo", host=inbox.url, sync_mode=True)
    print("sync client: screen ->", sync.screen(distinct_id="user_42", name="Settings"))
    print("sync client: alias  ->", sync.alias(distinct_id="user_42", alias="crm-77"))

    print("\nevents the inbox accepted:")
    for event in inbox.events():
        print(f"  {event['event']:<20} {event['distinct_id']}")
    print("\npersons, after PostHog's merge rules:")
    persons = inbox.persons()
    for person in persons:
        print("  " + json.dumps(sorted(person["distinct_ids"])))
    background.shutdown(timeout=5)
    sync.shutdown(timeout=5)
    if args.keep_running:
        print(f"\ninbox page: {inbox.url}/  (Ctrl-C to stop)")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    inbox.stop()
    ok = delivered and len(persons) == 1
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
