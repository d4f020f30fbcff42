"""Alert identity: the hash of the sorted label set, whatever the sender calls the alert.

Two HA Alertmanagers, a resend, or the same alert pushed by Prometheus directly all carry the
same labels, so they hash to one fingerprint. Senders' own `fingerprint` fields are ignored:
Alertmanager's differs from Prometheus' and a client can send anything.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence


def fingerprint(labels: Mapping[str, str]) -> str:
    """Return the hex sha256 of the labels, sorted by name, as canonical JSON."""
    return _hash(sorted(labels.items()))


def group_labels(labels: Mapping[str, str], group_by: Sequence[str] | None) -> dict[str, str]:
    """Return the labels that decide the group: all of them, or those named in group_by."""
    if group_by is None:
        return dict(labels)
    return {name: labels[name] for name in group_by if name in labels}


def group_key(
    labels: Mapping[str, str], group_by: Sequence[str] | None, known: str | None = None
) -> str:
    """Return the key alerts of one open incident share (route group_by labels that agree).

    `known` is the labels' fingerprint when the caller has it: without group_by, it is the key.
    """
    if group_by is None:
        return known or fingerprint(labels)
    # The names are part of the key: group_by [a] and group_by [b] with equal values differ.
    return _hash(
        {"group_by": sorted(group_by), "labels": sorted(group_labels(labels, group_by).items())}
    )


# Built once: json.dumps with options builds an encoder per call. The text must never change,
# or stored fingerprints would no longer match their alerts.
_CANONICAL = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _hash(value: object) -> str:
    return hashlib.sha256(_CANONICAL(value).encode()).hexdigest()
