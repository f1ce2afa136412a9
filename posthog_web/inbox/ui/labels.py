"""Readable labels for PostHog's ``$`` properties, as PostHog's property table names them."""

from __future__ import annotations

LABELS = {
    "$anon_distinct_id": "Anonymous distinct ID",
    "$browser": "Browser",
    "$browser_language": "Browser language",
    "$browser_version": "Browser version",
    "$current_url": "Current URL",
    "$device_id": "Device ID",
    "$device_type": "Device type",
    "$exception_fingerprint": "Exception fingerprint",
    "$exception_list": "Exception list",
    "$exception_level": "Exception level",
    "$exception_types": "Exception types",
    "$exception_values": "Exception values",
    "$geoip_city_name": "City name",
    "$geoip_country_code": "Country code",
    "$geoip_country_name": "Country name",
    "$host": "Host",
    "$ip": "IP address",
    "$lib": "Library",
    "$lib_version": "Library version",
    "$os": "OS",
    "$os_version": "OS version",
    "$pageview_id": "Page view ID",
    "$pathname": "Path name",
    "$process_person_profile": "Person profile processing",
    "$raw_user_agent": "Raw user agent",
    "$referrer": "Referrer URL",
    "$referring_domain": "Referring domain",
    "$request_method": "Request method",
    "$response_status": "Response status",
    "$screen_name": "Screen name",
    "$sent_at": "Sent at",
    "$session_id": "Session ID",
    "$set": "Set person properties",
    "$set_once": "Set person properties once",
    "$timezone": "Timezone",
    "$title": "Page title",
    "$unset": "Unset person properties",
    "$user_id": "User ID",
    "$viewport_height": "Viewport height",
    "$viewport_width": "Viewport width",
    "$window_id": "Window ID",
    "utm_campaign": "UTM campaign",
    "utm_content": "UTM content",
    "utm_medium": "UTM medium",
    "utm_source": "UTM source",
    "utm_term": "UTM term",
}


def label(name: str) -> str | None:
    """The label of a PostHog property; a generic one for other ``$`` names; None otherwise."""
    if name in LABELS:
        return LABELS[name]
    if name.startswith("$"):
        return name[1:].replace("_", " ").capitalize()
    return None
