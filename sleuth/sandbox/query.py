"""Datadog search syntax (logs, spans, events, metric tag filters) and time expressions.

World-agnostic: a parsed query matches any record through a `lookup(key) -> values` function
and a free-text function, so the simulator and a replay of recorded data share one semantics.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from fnmatch import fnmatchcase

Lookup = Callable[[str], list[object]]
Text = Callable[[], str]


class QueryError(ValueError):
    pass


# --- time -----------------------------------------------------------------------------------------
_REL = re.compile(r"^now(?:\s*([+-])\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w|mo|M|y))?$")
_UNITS = {
    "ms": 0.001,
    "s": 1,
    "m": 60,
    "h": 3600,
    "d": 86400,
    "w": 604800,
    "mo": 2592000,
    "M": 2592000,
    "y": 31536000,
}


def parse_time(value: object, now: float, default: float | None = None) -> float:
    """Epoch seconds from what Datadog accepts: epoch s or ms, ISO 8601, or `now-15m`-style math."""
    if value is None or value == "":
        if default is None:
            raise QueryError("missing time")
        return default
    if isinstance(value, int | float):
        v = float(value)
        return v / 1000.0 if v > 1e11 else v
    s = str(value).strip()
    if re.fullmatch(r"-?\d+(\.\d+)?", s):
        return parse_time(float(s), now)
    m = _REL.match(s)
    if m:
        if not m.group(1):
            return now
        delta = float(m.group(2)) * _UNITS[m.group(3)]
        return now - delta if m.group(1) == "-" else now + delta
    try:
        return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
    except ValueError as exc:
        raise QueryError(f"invalid time {s!r}") from exc


# --- search syntax --------------------------------------------------------------------------------
@dataclass
class Term:
    key: str | None  # None: free text
    value: str
    op: str = "="  # = > >= < <= range
    high: str | None = None  # upper bound of a range

    def match(self, lookup: Lookup, text: Text) -> bool:
        if self.key is None:
            return _text_match(self.value, text())
        values = lookup(self.key)
        if self.op == "=" and self.value == "*":
            return bool(values)
        return any(self._one(v) for v in values)

    def _one(self, v: object) -> bool:
        if self.op == "=":
            if isinstance(v, int | float) and not isinstance(v, bool) and _number(self.value) is not None:
                return float(v) == _number(self.value)
            return fnmatchcase(str(v).lower(), self.value.lower())
        x, lo = _number(v), _number(self.value)
        if x is None or lo is None:
            return False
        if self.op == "range":
            hi = _number(self.high)
            return hi is not None and lo <= x <= hi
        return {">": x > lo, ">=": x >= lo, "<": x < lo, "<=": x <= lo}[self.op]


@dataclass
class Not:
    node: Node

    def match(self, lookup: Lookup, text: Text) -> bool:
        return not self.node.match(lookup, text)


@dataclass
class All:
    nodes: list[Node]

    def match(self, lookup: Lookup, text: Text) -> bool:
        return all(n.match(lookup, text) for n in self.nodes)


@dataclass
class Any_:
    nodes: list[Node]

    def match(self, lookup: Lookup, text: Text) -> bool:
        return any(n.match(lookup, text) for n in self.nodes)


Node = Term | Not | All | Any_
_DUR = re.compile(r"^(-?\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)$")
_DUR_NS = {"ns": 1, "us": 1e3, "µs": 1e3, "ms": 1e6, "s": 1e9, "m": 6e10, "h": 3.6e12}


def _number(v: object) -> float | None:
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, int | float):
        return float(v)
    s = str(v).strip()
    m = _DUR.match(s)
    if m:  # durations compare in nanoseconds, like span @duration
        return float(m.group(1)) * _DUR_NS[m.group(2)]
    try:
        return float(s)
    except ValueError:
        return None


def _text_match(term: str, text: str) -> bool:
    t = term.lower()
    body = text.lower()
    if "*" in t or "?" in t:
        return fnmatchcase(body, t if t.startswith("*") else f"*{t}") or fnmatchcase(body, f"*{t}*")
    return t in body


_TOKEN = re.compile(
    r'\s*(?:(?P<neg>-(?=["(]))|(?P<lp>\()|(?P<rp>\))|"(?P<phrase>(?:[^"\\]|\\.)*)"'
    r'|(?P<kv>[@\w.\-/*]+):(?P<cmp>>=|<=|>|<)?(?:"(?P<qval>(?:[^"\\]|\\.)*)"|\[(?P<range>[^\]]*)\]|(?P<group>\()|(?P<val>[^\s()]*))'
    r"|(?P<word>[^\s()]+))"
)


class _Parser:
    def __init__(self, q: str) -> None:
        self.toks: list[tuple[str, object]] = []
        pos = 0
        q = q.strip()
        while pos < len(q):
            m = _TOKEN.match(q, pos)
            if not m or m.end() == pos:
                raise QueryError(f"cannot parse query near {q[pos : pos + 20]!r}")
            pos = m.end()
            if m.group("neg"):
                self.toks.append(("not", None))
            elif m.group("lp"):
                self.toks.append(("(", None))
            elif m.group("rp"):
                self.toks.append((")", None))
            elif m.group("phrase") is not None:
                self.toks.append(("term", Term(None, m.group("phrase").replace('\\"', '"'))))
            elif m.group("kv"):
                key = m.group("kv")
                neg = key.startswith("-") and len(key) > 1
                key = key[1:] if neg else key
                if neg:
                    self.toks.append(("not", None))
                if m.group("group"):
                    self.toks.append(("group", key))
                elif m.group("range") is not None:
                    lo, _, hi = m.group("range").partition(" TO ")
                    self.toks.append(("term", Term(key, lo.strip(), "range", hi.strip())))
                else:
                    val = m.group("qval") if m.group("qval") is not None else m.group("val")
                    self.toks.append(("term", Term(key, val or "", m.group("cmp") or "=")))
            else:
                w = m.group("word")
                if w in ("AND", "OR", "NOT"):
                    self.toks.append((w, None))
                elif w.startswith("-") and len(w) > 1:
                    self.toks.append(("not", None))
                    self.toks.append(("term", Term(None, w[1:])))
                elif w.startswith("!") and len(w) > 1:
                    self.toks.append(("not", None))
                    self.toks.extend(_Parser(w[1:]).toks)
                else:
                    self.toks.append(("term", Term(None, w)))
        self.i = 0

    def peek(self) -> str | None:
        return self.toks[self.i][0] if self.i < len(self.toks) else None

    def take(self) -> tuple[str, object]:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def parse(self) -> Node:
        if not self.toks:
            return All([])
        node = self.or_expr(None)
        if self.i != len(self.toks):
            raise QueryError("unbalanced parentheses")
        return node

    def or_expr(self, group_key: str | None) -> Node:
        parts = [self.and_expr(group_key)]
        while self.peek() == "OR":
            self.take()
            parts.append(self.and_expr(group_key))
        return parts[0] if len(parts) == 1 else Any_(parts)

    def and_expr(self, group_key: str | None) -> Node:
        parts: list[Node] = []
        while self.peek() not in (None, ")", "OR"):
            if self.peek() == "AND":
                self.take()
                continue
            parts.append(self.unary(group_key))
        if not parts:
            raise QueryError("empty expression")
        return parts[0] if len(parts) == 1 else All(parts)

    def unary(self, group_key: str | None) -> Node:
        kind, _ = self.toks[self.i]
        if kind in ("NOT", "not"):
            self.take()
            return Not(self.unary(group_key))
        return self.primary(group_key)

    def primary(self, group_key: str | None) -> Node:
        kind, value = self.take()
        if kind == "(":
            node = self.or_expr(group_key)
            self._close()
            return node
        if kind == "group":
            node = self.or_expr(str(value))
            self._close()
            return node
        if kind == "term":
            assert isinstance(value, Term)
            if group_key is not None and value.key is None:  # service:(a OR b): bare values take the key
                return Term(group_key, value.value)
            return value
        raise QueryError(f"unexpected {kind}")

    def _close(self) -> None:
        if self.peek() != ")":
            raise QueryError("missing )")
        self.take()


def parse_search(q: str | None) -> Node:
    q = (q or "").strip()
    if q in ("", "*"):
        return All([])
    return _Parser(q).parse()


def required_values(node: Node, key: str) -> frozenset[str] | None:
    """Values `key` must take for any match (exact terms under AND/OR), or None when unconstrained."""
    if isinstance(node, Term):
        if node.key == key and node.op == "=" and not any(c in node.value for c in "*?"):
            return frozenset({node.value})
        return None
    if isinstance(node, All):
        found = [v for v in (required_values(n, key) for n in node.nodes) if v is not None]
        if not found:
            return None
        out = found[0]
        for f in found[1:]:
            out = out & f
        return out
    if isinstance(node, Any_):
        parts = [required_values(n, key) for n in node.nodes]
        if any(p is None for p in parts):
            return None
        return frozenset().union(*[p for p in parts if p is not None])
    return None


# --- metric tag filters -----------------------------------------------------------------------------
def parse_tag_filter(expr: str) -> Node:
    """`{service:a,env:prod}` bodies: commas are AND, `!` negates, `k IN (a,b)` and AND/OR/NOT work."""
    expr = expr.strip()
    if expr in ("", "*"):
        return All([])
    expr = re.sub(r"([\w.\-/@]+)\s+NOT\s+IN\s*\(([^)]*)\)", lambda m: f"NOT {_in(m)}", expr)
    expr = re.sub(r"([\w.\-/@]+)\s+IN\s*\(([^)]*)\)", _in, expr)
    parts, depth, cur = [], 0, ""
    for ch in expr:
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    nodes = [_Parser(p.strip()).parse() for p in parts if p.strip() and p.strip() != "*"]
    return nodes[0] if len(nodes) == 1 else All(nodes)


def _in(m: re.Match[str]) -> str:
    values = [v.strip() for v in m.group(2).split(",") if v.strip()]
    return "(" + " OR ".join(f"{m.group(1)}:{v}" for v in values) + ")"


def tag_lookup(tags: Sequence[str]) -> Lookup:
    def lookup(key: str) -> list[object]:
        prefix = key.lower() + ":"
        return [t[len(prefix) :] for t in tags if t.lower().startswith(prefix)]

    return lookup


def tag_matcher(node: Node) -> Callable[[Sequence[str]], bool]:
    def match(tags: Sequence[str]) -> bool:
        return node.match(tag_lookup(tags), lambda: "\n".join(tags))

    return match
