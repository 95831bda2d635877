"""IP addresses: versions 4 and 6, each validated by `ipaddress`."""

from __future__ import annotations

import pytest

from souverain.privacy.recognizers.network import IpRecognizer


def addresses(text: str) -> list[tuple[str, str | None]]:
    return [(text[e.start : e.end], e.subtype) for e in IpRecognizer().find(text, None)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Connexion depuis 192.168.1.20.", [("192.168.1.20", "ipv4")]),
        (
            "from 8.8.8.8, then 2001:db8::ff00:42:8329.",
            [("8.8.8.8", "ipv4"), ("2001:db8::ff00:42:8329", "ipv6")],
        ),
        (
            "loopback ::1 and fe80::1ff:fe23:4567:890a",
            [("::1", "ipv6"), ("fe80::1ff:fe23:4567:890a", "ipv6")],
        ),
        ("mapped ::ffff:192.0.2.128 here", [("::ffff:192.0.2.128", "ipv6")]),
        ("6e40:4041:c617:e898:c11:40d2:c669:2eb4", [("6e40:4041:c617:e898:c11:40d2:c669:2eb4", "ipv6")]),
    ],
)
def test_valid_addresses(text: str, expected: list[tuple[str, str]]) -> None:
    assert addresses(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "999.1.1.1",
        "version 1.2.3.4.5",
        "at 10:30:15 sharp",
        "ratio 12:34",
        "2001:db8::1::2",
        "1.2.3",
        "abcd:efgh::1",
    ],
)
def test_what_is_not_an_address(text: str) -> None:
    assert addresses(text) == []


@pytest.mark.parametrize(
    "text",
    ["", ":" * 100_000, "1." * 100_000, "a:" * 100_000, "f" * 1_000_000],
    ids=["empty", "colons", "dots", "hex-colons", "hex"],
)
def test_degenerate_inputs(text: str) -> None:
    addresses(text)
