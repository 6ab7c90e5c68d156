"""A strict reader of the Prometheus text exposition format (0.0.4), used to check ``/metrics``."""

from __future__ import annotations

import math
import re

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
SAMPLE = re.compile(rf"^(?P<name>{NAME})(?:\{{(?P<labels>.*)\}})? (?P<value>\S+)$")
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"')
Labels = tuple[tuple[str, str], ...]


def parse(text: str) -> tuple[dict[tuple[str, Labels], float], dict[str, str]]:
    """(samples keyed by (name, sorted labels), family types); raises AssertionError on any malformed line."""
    samples: dict[tuple[str, Labels], float] = {}
    types: dict[str, str] = {}
    assert text.endswith("\n")
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert kind in {"counter", "gauge", "histogram", "summary", "untyped"}, line
            types[name] = kind
            continue
        if line.startswith("# HELP "):
            continue
        m = SAMPLE.match(line)
        assert m is not None, f"malformed sample line: {line!r}"
        labels: list[tuple[str, str]] = []
        raw = m.group("labels") or ""
        pos = 0
        while pos < len(raw):
            lm = LABEL.match(raw, pos)
            assert lm is not None, f"malformed labels in {line!r}"
            labels.append((lm.group(1), lm.group(2)))
            pos = lm.end()
            if pos < len(raw):
                assert raw[pos] == ",", f"malformed labels in {line!r}"
                pos += 1
        value = float(m.group("value"))
        assert not math.isnan(value), line
        family = re.sub(r"_(bucket|sum|count)$", "", m.group("name"))
        assert m.group("name") in types or family in types, f"sample without a TYPE line: {line!r}"
        key = (m.group("name"), tuple(sorted(labels)))
        assert key not in samples, f"duplicate sample {line!r}"
        samples[key] = value
    return samples, types


def value(samples: dict[tuple[str, Labels], float], name: str, **labels: str) -> float:
    """The value of one sample (KeyError naming it when absent)."""
    return samples[(name, tuple(sorted(labels.items())))]
