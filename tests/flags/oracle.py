"""posthog-python 7.91.1 as an oracle: its local evaluation of the same definitions."""

from __future__ import annotations

import logging
from typing import Any

from posthog import Posthog
from posthog.feature_flags import InconclusiveMatchError, RequiresServerEvaluation

UNDECIDED = "<undecided>"
SERVER = "<server>"


class Oracle:
    """One posthog-python client that never touches the network."""

    def __init__(self) -> None:
        self.client = Posthog("phc_oracle", send=False, sync_mode=True)
        # Its warnings about definitions are expected here; keep the test output clean.
        self.client.log.setLevel(logging.CRITICAL)
        logging.getLogger("posthog").setLevel(logging.CRITICAL)

    def load(self, defs: dict[str, Any]) -> None:
        self.load_into(self.client, defs)

    @staticmethod
    def load_into(client: Posthog, defs: dict[str, Any]) -> None:
        """Inject definitions as if the client had fetched them."""
        client.feature_flags = defs["flags"]
        client.group_type_mapping = defs.get("group_type_mapping", {})
        client.cohorts = defs.get("cohorts", {})
        client._property_matching_version = defs.get("property_matching_version", 1)

    def evaluate(self, flag: dict[str, Any], call: dict[str, Any]) -> Any:
        """The flag's value, or (UNDECIDED or SERVER, the reason)."""
        try:
            return self.client._compute_flag_locally(
                flag,
                call["distinct_id"],
                groups=call["groups"],
                person_properties=call["person_properties"],
                group_properties=call["group_properties"],
                warn_on_unknown_groups=False,
                device_id=call["device_id"],
                _definition_snapshot=self.client._local_evaluation_snapshot(),
            )
        except RequiresServerEvaluation as undecided:
            return (SERVER, undecided.reason.value)
        except InconclusiveMatchError as undecided:
            return (UNDECIDED, undecided.reason.value)

    def payload(self, key: str, value: Any) -> Any:
        return self.client._compute_payload_locally(
            key, value, _definition_snapshot=self.client._local_evaluation_snapshot()
        )


def prepared(call: dict[str, Any]) -> dict[str, Any]:
    """The public API's preprocessing: distinct_id and $group_key filled in."""
    person = dict(call["person_properties"])
    person.setdefault("distinct_id", call["distinct_id"])
    group_properties = {
        name: {"$group_key": key, **call["group_properties"].get(name, {})}
        for name, key in call["groups"].items()
    }
    return {**call, "person_properties": person, "group_properties": group_properties}
