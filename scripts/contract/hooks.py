"""Schemathesis hooks of the contract run: the two request rules of docs/openapi.yaml that JSON
Schema cannot state, applied to generated requests so that a request the spec allows is one the
server must accept.

- `options.pageRanges` of `POST /api/v1/jobs`: ranges ascend and do not overlap. A value matching
  the schema's pattern is rewritten into that order (same pages, sorted and merged).
- `downloadUrls` of `POST /api/v1/jobs/release`: every key is one of `jobIds`. Other keys are
  dropped.

Values the schema already rejects are left alone, so negative cases stay negative.

And one check: the authorization endpoint refuses a malformed request by redirecting to the client
with `error=` (RFC 6749 §4.1.2.1) once client and redirect URI are valid, so the run counts a 302 as
a rejection there (schemathesis.toml); `authorization_redirects_errors` makes sure such a 302
carries `error=` and never a code.
"""

import re
from urllib.parse import parse_qs, urlsplit

import schemathesis

_WHITE = "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
_PAGE = re.compile(r"0*[1-9][0-9]{0,4}")


def _parse(text):
    """The ranges of a pattern-valid list as (from, to) pairs, or None."""
    ranges = []
    for part in text.split(","):
        bounds = [b.strip(_WHITE) for b in part.strip(_WHITE).split("-")]
        if len(bounds) > 2 or not all(_PAGE.fullmatch(b) for b in bounds):
            return None
        ranges.append((int(bounds[0]), int(bounds[-1])))
    return ranges


def _ascending(text):
    ranges = _parse(text)
    if ranges is None:
        return text
    last, ordered = 0, True
    for start, end in ranges:
        if start > end or start <= last:
            ordered = False
        last = end
    if ordered:
        return text
    merged = []
    for start, end in sorted((min(a, b), max(a, b)) for a, b in ranges):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in merged)


@schemathesis.hook
def before_call(context, case, kwargs):
    operation, body = case.operation, case.body
    if operation.method.upper() != "POST" or not isinstance(body, dict):
        return
    if operation.path == "/api/v1/jobs":
        options = body.get("options")
        if isinstance(options, dict) and isinstance(options.get("pageRanges"), str):
            options["pageRanges"] = _ascending(options["pageRanges"])
    elif operation.path == "/api/v1/jobs/release":
        ids, urls = body.get("jobIds"), body.get("downloadUrls")
        if isinstance(ids, list) and isinstance(urls, dict):
            body["downloadUrls"] = {k: v for k, v in urls.items() if k in ids}


@schemathesis.check
def authorization_redirects_errors(ctx, response, case):
    """A schema-violating authorization request redirects with `error=`, never with a code."""
    if case.operation.path != "/oauth/authorize" or response.status_code != 302:
        return None
    meta = case.meta
    if meta is None or not meta.generation.mode.is_negative:
        return None
    location = response.headers.get("location", [""])
    location = location[0] if isinstance(location, list) else location
    query = parse_qs(urlsplit(location).query)
    if "code" in query or "error" not in query:
        raise AssertionError(f"a malformed authorization request was not refused: {location}")
    return True
