"""The one redaction module: everything sent to a model or a trace passes through `redact`.

Typed placeholders (`[EMAIL]`, `[IP]`, `[CARD]`, `[SECRET]`) keep enough shape for a model to
reason ("an IP timed out") without the value. Rules run most specific first, so a bearer token
that happens to be hex is one `[SECRET]`, not a half-redacted mess. The bias is deliberate:
a false positive costs a little context, a false negative leaks a credential — but ordinary
numbers, versions, durations, timestamps and trace ids must survive, or the evidence is gone.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel

EMAIL = "[EMAIL]"
IP = "[IP]"
CARD = "[CARD]"
SECRET = "[SECRET]"

_PEM = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|\Z)", re.S)
# Every rule anchors where a match can start (a lookbehind, a bounded run): telemetry is
# attacker-controlled text, and a pattern that backtracks quadratically is a denial of service.
_URL_CREDENTIALS = re.compile(
    r"(?<![A-Za-z0-9+.-])([a-zA-Z][a-zA-Z0-9+.-]{0,30}://)[^\s/:@]{1,256}:[^\s/@]{1,256}@"
)
# Header values: keep the scheme word so "Authorization: Bearer [SECRET]" still reads naturally.
_AUTH_HEADER = re.compile(
    r"(?i)\b((?:proxy-)?authorization\\{0,3}[\"']?\s*[:=]\s*\\{0,3}[\"']?)"
    r"(?:(bearer|basic|token|digest|apikey|dd-api-key)\s+)?[^\s\"',;\\]+"
)
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+(?!\[SECRET\])[A-Za-z0-9\-._~+/]{6,}=*")
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}")
_PREFIXED = re.compile(
    r"(?<![A-Za-z0-9])(?:"
    r"sk-ant-[A-Za-z0-9_\-]{8,}"  # Anthropic
    r"|sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{16,}"  # OpenAI
    r"|(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{10,}"  # Stripe
    r"|gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}"  # GitHub
    r"|(?:AKIA|ASIA|AGPA|AIDA|AROA)[0-9A-Z]{16}"  # AWS access key ids
    r"|xox[abposr]-[A-Za-z0-9-]{10,}"  # Slack
    r"|AIza[0-9A-Za-z_\-]{35}"  # Google API keys
    r"|glpat-[A-Za-z0-9_\-]{20,}"  # GitLab
    r"|pub[0-9a-f]{32}"  # Datadog client tokens
    r")"
)
_SECRET_KEYS = (
    r"password|passwd|pwd|passphrase|secret|token|api[_-]?key|apikey|app[_-]?key|application[_-]?key"
    r"|access[_-]?key|private[_-]?key|client[_-]?secret|credentials?|auth[_-]?token|session[_-]?token"
    r"|signature|cookie"
)
# `token=abc`, `"password": "x y"`, `DD_API_KEY: 0123...`, and the same inside JSON that was
# itself JSON-encoded (`\"api_key\":\"...\"`), which is what a tool result quoting a JSON log
# line looks like. The sensitive word must END the name (`DD_API_KEY`, `x-api-key`), so
# `input_tokens: 1024` or `token_count=3` keep their numbers.
_KEY_VALUE = re.compile(
    r"(?i)(?<![A-Za-z0-9])(?P<key>" + _SECRET_KEYS + r")(?![A-Za-z0-9])"
    r"(?P<sep>\\{0,3}[\"']?\s*[:=]\s*)"
    r"(?:(?P<q>\\{0,3}[\"'])(?P<qv>[^\"'\\\n]*)|(?P<v>\[SECRET\]|[^\s\"',;&}\]\\]+))"
)
_SENSITIVE_KEY = re.compile(r"(?i)(?:^|[_.-])(?:" + _SECRET_KEYS + r")$")
_PASSWORDISH = re.compile(r"(?i)pass|pwd|secret|private")
_PLAIN_WORD = re.compile(r"[a-z]{1,12}")
_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b"
)
_H16 = r"[0-9A-Fa-f]{1,4}"
_V4 = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}"
_IPV6 = re.compile(
    r"(?<![0-9A-Za-z:.])(?:"
    rf"(?:{_H16}:){{7}}{_H16}"
    rf"|(?:{_H16}:){{1,4}}:{_V4}"
    rf"|::(?:ffff(?::0{{1,4}})?:)?{_V4}"
    rf"|(?:{_H16}:){{1,6}}(?::{_H16}){{1,6}}"
    rf"|(?:{_H16}:){{2,7}}:"
    rf"|::(?:{_H16}:){{0,6}}{_H16}"
    r")(?:%[0-9A-Za-z]+)?(?![0-9A-Za-z:]|\.\d)"
)
_IPV4 = re.compile(r"(?<![0-9A-Za-z.])" + _V4 + r"(?![0-9A-Za-z]|\.\d)")
_CARD_CANDIDATE = re.compile(r"(?<![0-9A-Za-z._])\d(?:[ -]?\d){12,18}(?![0-9A-Za-z_]|\.\d)")
# 32-hex Datadog API keys, 40-hex application keys. A run of hex is also a trace id, a git sha
# or a digest, so a labelled one keeps its value.
_HEX_KEY = re.compile(
    r"(?<![0-9A-Za-z])(?=[0-9a-f]*[a-f])(?=[0-9a-f]*\d)(?:[0-9a-f]{40}|[0-9a-f]{32})(?![0-9A-Za-z])"
)
_HEX_LABELS = re.compile(
    r"(?i)(?:trace[_.-]?id|span[_.-]?id|parent[_.-]?id|request[_.-]?id|commit|sha1?|git[_.]commit[_.]sha|"
    r"revision|rev|version|digest|etag|md5|checksum|image|build[_.-]?id)\\{0,3}[\"']?\s*[:=@]?\s*\\{0,3}[\"']?$"
)


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _card_brand_fits(d: str) -> bool:
    """Issuer prefixes and lengths: a Luhn pass alone is 1 in 10 for any long number."""
    n = len(d)
    if d[0] == "4":
        return n in (13, 16, 19)
    if d[:2] in {"51", "52", "53", "54", "55"} or 2221 <= int(d[:4]) <= 2720:
        return n == 16
    if d[:2] in {"34", "37"}:
        return n == 15
    if d[:4] == "6011" or d[:2] in {"62", "65"} or 644 <= int(d[:3]) <= 649:
        return 16 <= n <= 19
    if 3528 <= int(d[:4]) <= 3589:
        return 16 <= n <= 19
    if d[:2] in {"36", "38", "39"} or 300 <= int(d[:3]) <= 305:
        return 14 <= n <= 19
    return d[:2] in {"50", "56", "57", "58", "63", "67"} and 12 <= n <= 19  # Maestro


def _card(m: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", m.group(0))
    if 13 <= len(digits) <= 19 and _card_brand_fits(digits) and _luhn(digits):
        return CARD
    return m.group(0)


def _hex_key(m: re.Match[str]) -> str:
    before = m.string[max(0, m.start() - 24) : m.start()]
    return m.group(0) if _HEX_LABELS.search(before) else SECRET


def _auth_header(m: re.Match[str]) -> str:
    if not m.group(2) and _PLAIN_WORD.fullmatch(m.group(0)[len(m.group(1)) :]):
        return m.group(0)  # "authorization: denied" is a log message, not a credential
    scheme = f"{m.group(2)} " if m.group(2) else ""
    return f"{m.group(1)}{scheme}{SECRET}"


def _key_value(m: re.Match[str]) -> str:
    quote = m.group("q") or ""
    value = m.group("qv") if quote else m.group("v")
    if value in ("", SECRET):
        return m.group(0)
    if not _PASSWORDISH.search(m.group("key")) and _PLAIN_WORD.fullmatch(value):
        return m.group(0)  # "invalid token: expired" keeps its meaning; real tokens are not short words
    # A closing quote, when there is one, is left where it was.
    return f"{m.group('key')}{m.group('sep')}{quote}{SECRET}"


def redact(text: str) -> str:
    if not text:
        return text
    text = _PEM.sub(SECRET, text)
    text = _URL_CREDENTIALS.sub(lambda m: f"{m.group(1)}{SECRET}@", text)
    text = _AUTH_HEADER.sub(_auth_header, text)
    text = _BEARER.sub(lambda m: f"{m.group(1)} {SECRET}", text)
    text = _JWT.sub(SECRET, text)
    text = _PREFIXED.sub(SECRET, text)
    text = _KEY_VALUE.sub(_key_value, text)
    text = _EMAIL.sub(EMAIL, text)
    text = _IPV6.sub(IP, text)
    text = _IPV4.sub(IP, text)
    text = _CARD_CANDIDATE.sub(_card, text)
    return _HEX_KEY.sub(_hex_key, text)


def redact_obj(obj: Any) -> Any:
    """Every string inside dicts, lists, tuples and pydantic models (dumped to JSON-able data); keys too."""
    if isinstance(obj, str):
        return redact(obj)
    if isinstance(obj, BaseModel):
        return redact_obj(obj.model_dump(mode="json"))
    if isinstance(obj, dict):
        return {(redact(k) if isinstance(k, str) else k): _redact_item(k, v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [redact_obj(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(redact_obj(v) for v in obj)
    return obj


def _redact_item(key: Any, value: Any) -> Any:
    # {"password": "hunter2"}: the value alone looks innocent, its key says what it is.
    sensitive = isinstance(key, str) and _SENSITIVE_KEY.search(key) is not None
    if sensitive and isinstance(value, str | int | float) and not isinstance(value, bool) and value != "":
        return SECRET
    return redact_obj(value)
