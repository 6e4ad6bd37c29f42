"""One nftables table as a value: what a driver wants the kernel to hold, what ``nft -j list
table`` says it holds, and the one ``nft -f`` transaction that turns the second into the
first. Pure: the adapter (``lbroute.kernel.nft``) runs ``nft``.

Rules are compared by a tag, not by their text: ``nft -j`` renders a rule in its own words
(and nft 1.0.6 cannot render a map-update statement in JSON at all), so every rule we write
carries ``comment "lbroute:<tag>"``, a digest of the text we wrote. Maps are compared by
their definition and, for the maps we fill (``elements`` not None), element by element.
Maps the kernel fills (flow pins) are never flushed: a reload must not forget them. Only
the one table named is ever touched.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

TAG_PREFIX = "lbroute:"


def rule_tag(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=6).hexdigest()


@dataclass(frozen=True)
class NftMap:
    name: str
    key_type: str  # "mark", "ipv4_addr . inet_service"
    value_type: str  # "ipv4_addr"
    # None: the kernel fills it (dynamic); a tuple: exactly these (key, value) elements
    elements: tuple[tuple[int, str], ...] | None = ()
    timeout: int | None = None  # seconds
    size: int | None = None

    @property
    def definition(self) -> tuple[str, str, int | None, int | None]:
        return (self.key_type, self.value_type, self.timeout, self.size)

    def declaration(self) -> str:
        parts = [f"type {self.key_type} : {self.value_type};"]
        if self.size is not None:
            parts.append(f"size {self.size};")
        if self.elements is None:
            parts.append("flags dynamic,timeout;" if self.timeout else "flags dynamic;")
        if self.timeout:
            parts.append(f"timeout {self.timeout}s;")
        return "{ " + " ".join(parts) + " }"


@dataclass(frozen=True)
class NftRule:
    text: str  # without the comment

    @property
    def tag(self) -> str:
        return rule_tag(self.text)


@dataclass(frozen=True)
class NftChain:
    name: str
    type: str  # filter, nat
    hook: str  # prerouting, postrouting, ...
    priority: int
    rules: tuple[NftRule, ...] = ()

    @property
    def definition(self) -> tuple[str, str, int]:
        return (self.type, self.hook, self.priority)


@dataclass(frozen=True)
class NftTable:
    family: str
    name: str
    maps: tuple[NftMap, ...] = ()
    chains: tuple[NftChain, ...] = ()

    def map(self, name: str) -> NftMap | None:
        return next((m for m in self.maps if m.name == name), None)

    def chain(self, name: str) -> NftChain | None:
        return next((c for c in self.chains if c.name == name), None)


@dataclass(frozen=True)
class ObservedTable:
    """What the kernel holds: maps as they are, and per chain the tags of its rules in order
    (a rule without our tag shows as ``"?"``: someone else's, to be replaced)."""

    family: str
    name: str
    maps: tuple[NftMap, ...]
    chains: tuple[tuple[NftChain, tuple[str, ...]], ...]  # chain definition (no rules), tags

    def map(self, name: str) -> NftMap | None:
        return next((m for m in self.maps if m.name == name), None)

    def chain(self, name: str) -> tuple[NftChain, tuple[str, ...]] | None:
        return next((c for c in self.chains if c[0].name == name), None)


class NftOutputError(ValueError):
    """``nft -j`` output this parser does not understand."""


def _type_text(raw: Any) -> str:
    if isinstance(raw, list):
        return " . ".join(str(x) for x in raw)
    return str(raw)


def _element(raw: Any) -> tuple[int, str]:
    if not (isinstance(raw, list) and len(raw) == 2):
        raise NftOutputError(f"map element {str(raw)[:60]} is not a [key, value] pair")
    key, value = raw
    if isinstance(key, str):
        key = int(key, 0)  # an integer type may come back as hex text
    if not isinstance(key, int) or not isinstance(value, str):
        raise NftOutputError(f"map element {str(raw)[:60]} is not [integer, address]")
    return key, value


def _map(body: Mapping[str, Any]) -> NftMap:
    dynamic = "elem" not in body and ("timeout" in body or "dynamic" in (body.get("flags") or ()))
    elements = None if dynamic else tuple(sorted(_element(e) for e in body.get("elem") or ()))
    try:
        return NftMap(
            name=str(body["name"]),
            key_type=_type_text(body.get("type")),
            value_type=_type_text(body.get("map")),
            elements=elements,
            timeout=int(body["timeout"]) if "timeout" in body else None,
            size=int(body["size"]) if "size" in body else None,
        )
    except (KeyError, ValueError, TypeError) as err:
        raise NftOutputError(f"map {str(body.get('name'))[:40]}: {type(err).__name__}: {err}") from None


def parse_map(text: str, family: str, table: str, name: str) -> NftMap | None:
    """One map from ``nft -j list map`` output, elements and all."""
    try:
        items = json.loads(text)["nftables"]
    except (ValueError, KeyError, TypeError) as err:
        raise NftOutputError(f"not nft -j output: {str(err)[:80]}") from None
    for item in items:
        body = item.get("map") if isinstance(item, Mapping) else None
        if (
            isinstance(body, Mapping)
            and body.get("family") == family
            and body.get("table") == table
            and body.get("name") == name
        ):
            return _map(body)
    return None


def parse_table(text: str, family: str, name: str) -> ObservedTable | None:
    """The table ``family name`` from ``nft -j list table`` (or ``list ruleset``) output;
    None when the output holds no such table."""
    try:
        doc = json.loads(text) if text.strip() else {"nftables": []}
        items = doc["nftables"]
    except (ValueError, KeyError, TypeError) as err:
        raise NftOutputError(f"not nft -j output: {str(err)[:80]}") from None
    found = False
    maps: list[NftMap] = []
    chains: dict[str, NftChain] = {}
    tags: dict[str, list[str]] = {}
    for item in items:
        if not isinstance(item, Mapping) or len(item) != 1:
            continue
        kind, body = next(iter(item.items()))
        if not isinstance(body, Mapping) or body.get("family") != family:
            continue
        if kind == "table" and body.get("name") == name:
            found = True
            continue
        if body.get("table") != name:
            continue
        if kind == "map":
            maps.append(_map(body))
        elif kind == "set":
            # not ours to have: listed so that the transaction removes it
            maps.append(NftMap(str(body["name"]), _type_text(body.get("type")), "", None))
        elif kind == "chain":
            chains[str(body["name"])] = NftChain(
                str(body["name"]),
                str(body.get("type", "")),
                str(body.get("hook", "")),
                int(body.get("prio", 0)),
            )
            tags.setdefault(str(body["name"]), [])
        elif kind == "rule":
            comment = str(body.get("comment", ""))
            tag = comment[len(TAG_PREFIX) :] if comment.startswith(TAG_PREFIX) else "?"
            tags.setdefault(str(body.get("chain")), []).append(tag)
    if not found:
        return None
    return ObservedTable(
        family,
        name,
        tuple(sorted(maps, key=lambda m: m.name)),
        tuple((chains[c], tuple(tags.get(c, ()))) for c in sorted(chains)),
    )


def equal(desired: NftTable, observed: ObservedTable | None) -> bool:
    return transaction(desired, observed) is None


def _elements_text(elements: Sequence[tuple[int, str]]) -> str:
    return ", ".join(f"{k} : {v}" for k, v in elements)


def differences(desired: NftTable, observed: ObservedTable | None) -> list[str]:
    """What differs, one line each (for a log event): empty when the kernel holds ``desired``."""
    if observed is None:
        return [f"table {desired.family} {desired.name} is missing"]
    out = []
    for m in desired.maps:
        seen = observed.map(m.name)
        if seen is None:
            out.append(f"map {m.name} is missing")
        elif seen.definition != m.definition or (seen.elements is None) != (m.elements is None):
            out.append(f"map {m.name} is defined differently")
        elif m.elements is not None and seen.elements != tuple(sorted(m.elements)):
            changed = len(set(m.elements) ^ set(seen.elements or ()))
            out.append(f"map {m.name} differs in {changed} element(s)")
    wanted_maps = {m.name for m in desired.maps}
    out += [f"map {m.name} is not ours" for m in observed.maps if m.name not in wanted_maps]
    for c in desired.chains:
        seen_chain = observed.chain(c.name)
        if seen_chain is None:
            out.append(f"chain {c.name} is missing")
        elif seen_chain[0].definition != c.definition:
            out.append(f"chain {c.name} hooks differently")
        elif seen_chain[1] != tuple(r.tag for r in c.rules):
            out.append(f"chain {c.name} holds other rules")
    wanted_chains = {c.name for c in desired.chains}
    out += [f"chain {c.name} is not ours" for c, _ in observed.chains if c.name not in wanted_chains]
    return out


def transaction(desired: NftTable, observed: ObservedTable | None) -> str | None:
    """The ``nft -f`` input that makes the kernel hold ``desired``, as one transaction; None
    when it already does. Only map elements changed: only those are rewritten (atomically,
    flush and add in one batch); anything else: every chain is rewritten too."""
    if not differences(desired, observed):
        return None
    t = f"{desired.family} {desired.name}"
    lines = [f"add table {t}"]
    rules_same = observed is not None and all(
        (seen := observed.chain(c.name)) is not None
        and seen[0].definition == c.definition
        and seen[1] == tuple(r.tag for r in c.rules)
        for c in desired.chains
    )
    extra_chains = (
        [] if observed is None else [c for c, _ in observed.chains if desired.chain(c.name) is None]
    )
    maps_same_def = observed is not None and all(
        (seen_map := observed.map(m.name)) is not None
        and seen_map.definition == m.definition
        and (seen_map.elements is None) == (m.elements is None)
        for m in desired.maps
    )
    extra_maps = [] if observed is None else [m for m in observed.maps if desired.map(m.name) is None]
    only_elements = rules_same and maps_same_def and not extra_chains and not extra_maps
    if not only_elements and observed is not None:
        # no rule may still refer to a map that is deleted or redefined below
        lines += [f"flush chain {t} {c.name}" for c, _ in observed.chains]
        lines += [f"delete chain {t} {c.name}" for c in extra_chains]
        for c, _ in observed.chains:
            want = desired.chain(c.name)
            if want is not None and want.definition != c.definition:
                lines.append(f"delete chain {t} {c.name}")
        for m in observed.maps:
            want_map = desired.map(m.name)
            if (
                want_map is None
                or want_map.definition != m.definition
                or (want_map.elements is None) != (m.elements is None)
            ):
                lines.append(f"delete {'set' if not m.value_type else 'map'} {t} {m.name}")
    for m in desired.maps:
        lines.append(f"add map {t} {m.name} {m.declaration()}")
        if m.elements is None:
            continue
        seen_map = observed.map(m.name) if observed is not None else None
        if seen_map is not None and seen_map.elements == tuple(sorted(m.elements)):
            continue
        lines.append(f"flush map {t} {m.name}")
        if m.elements:
            lines.append(f"add element {t} {m.name} {{ {_elements_text(m.elements)} }}")
    if not only_elements:
        for c in desired.chains:
            lines.append(
                f"add chain {t} {c.name} {{ type {c.type} hook {c.hook} "
                f"priority {c.priority}; policy accept; }}"
            )
            lines += [f'add rule {t} {c.name} {r.text} comment "{TAG_PREFIX}{r.tag}"' for r in c.rules]
    return "\n".join(lines) + "\n"


def removal(family: str, name: str) -> str:
    """The transaction that deletes the table (``nft -f``; the table must exist)."""
    return f"delete table {family} {name}\n"
