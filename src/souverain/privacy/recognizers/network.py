"""IP addresses, version 4 and 6: candidates found by bounded patterns, each validated by the standard
library's `ipaddress`, so that "999.1.1.1" or a clock time "10:30:15" is never reported."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator

from souverain.privacy.entities import Entity, EntityType

SCORE = 0.9
# Dotted quads not glued to other digits or dots: "1.2.3.4.5" (a version or an outline number) is none;
# after a colon it is the tail of an IPv6 address ("::ffff:192.0.2.128"), found whole below.
# The look behind comes after the first digit, so that the search skips to digits in C.
_IPV4 = re.compile(r"\d(?<![\w.:]\d)\d{0,2}\.(?:\d{1,3}\.){2}\d{1,3}(?![\w]|\.\d)")
# Hex groups with at least two colons, an embedded IPv4 tail allowed; at most 45 characters (the longest
# textual IPv6 address), which keeps each attempt constant-time.
_IPV6 = re.compile(r"(?<![\w:.])(?=[0-9A-Fa-f]{0,4}:[0-9A-Fa-f]{0,4}:)[0-9A-Fa-f:.]{2,45}(?![\w:])")


class IpRecognizer:
    name = "network"
    types = frozenset({EntityType.IP})

    def find(self, text: str, language: str | None) -> Iterator[Entity]:
        for match in _IPV4.finditer(text):
            if _valid(match.group(), ipaddress.IPv4Address):
                yield Entity(EntityType.IP, match.start(), match.end(), SCORE, self.name, "ipv4")
        for match in _IPV6.finditer(text) if ":" in text else ():
            candidate = match.group().rstrip(".")  # a sentence's full stop after the address
            if _valid(candidate, ipaddress.IPv6Address):
                end = match.start() + len(candidate)
                yield Entity(EntityType.IP, match.start(), end, SCORE, self.name, "ipv6")


def _valid(candidate: str, kind: type[ipaddress.IPv4Address] | type[ipaddress.IPv6Address]) -> bool:
    try:
        kind(candidate)
    except ValueError:
        return False
    return True
