"""Prometheus metrics of the chat bots: what they answered, and how fast they acknowledged it.

Both bots count into the same series, labelled by `bot`; `codedrop run` exposes them on the
API's `/metrics`, a bot running alone on its own port (`CODEDROP_METRICS_PORT`).
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

INTERACTIONS = Counter(
    "codedrop_bot_interactions_total",
    "Updates (Telegram) and interactions (Discord) answered, by outcome",
    ["bot", "outcome"],
)
FIRST_ACK = Histogram(
    "codedrop_bot_first_ack_seconds",
    "From an update's or interaction's arrival to the first answer sent to the platform",
    ["bot"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10),
)
