"""Feature flags: definitions and their poller, local evaluation, remote evaluation."""
