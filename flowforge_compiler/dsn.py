"""Database URLs (DSNs) taken apart once, so a password never reaches a bundle or a message.

Users write passwords raw, so a password may hold `@`, `:`, `/` or `?`. SQLAlchemy's `make_url`
ends the user-info at the first `@` and would put the rest of such a password into the host
(and from there into error messages). Here the user-info ends at the *last* `@` before the
query; the query starts at the first `?` followed by `key=`. A `@` inside a query value must
be written `%40`. The parts then build the driver's URL with `sqlalchemy.URL.create`, so no
text is re-parsed on the way to the server.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, unquote

from flowforge_compiler.errors import ProfileError

_SCHEME = re.compile(r"^(?P<scheme>[A-Za-z][\w+.-]*)://(?P<rest>.*)$", re.DOTALL)
_QUERY_START = re.compile(r"\?(?=[\w.-]+=)")
_HOST_PORT = re.compile(r"^(?P<host>\[[^\]]*\]|[^:\[\]]*)(?::(?P<port>[^:]*))?$")
_WHOLE_TEMPLATE = re.compile(r"\{\{((?:(?!\}\}).)*)\}\}", re.DOTALL)
SECRET_KEY = re.compile(r"(password|passwd|pwd|secret|token|private_key|api_key|keyfile_json)", re.IGNORECASE)
REDACTED = "***"


@dataclass(frozen=True)
class Dsn:
    scheme: str
    username: str | None
    password: str | None
    host: str | None
    port: int | None
    database: str | None
    query: tuple[tuple[str, str], ...] = field(default=())

    @property
    def secrets(self) -> list[str]:
        """Every secret the DSN carries: the password and secret-named query values."""
        found = [self.password] if self.password else []
        return found + [v for k, v in self.query if k in self.secret_keys]

    def describe(self) -> str:
        """Where it points, for messages: host, port, database and user, never a secret."""
        return (
            f"host {self.host or 'localhost'}:{self.port or 'default port'}, database {self.database!r}, "
            f"user {self.username!r}"
        )

    def redacted(self) -> str:
        """The DSN with every secret replaced by ***."""
        return self.render(password=REDACTED if self.password else None, query_values=dict.fromkeys(self.secret_keys, REDACTED))

    @property
    def secret_keys(self) -> list[str]:
        return [k for k, v in self.query if SECRET_KEY.search(k) and v]

    def render(self, *, password: str | None, query_values: Mapping[str, str] | None = None) -> str:
        """The DSN as text. `password` and `query_values` (by key) are written as given; the
        user name and other query values are percent-encoded; host and database stay as parsed."""
        replaced = query_values or {}
        userinfo = ""
        if self.username is not None or password is not None:
            userinfo = quote(self.username or "", safe="") + (f":{password}" if password is not None else "") + "@"
        host = f"[{self.host}]" if self.host and ":" in self.host else (self.host or "")
        port = f":{self.port}" if self.port is not None else ""
        database = f"/{self.database}" if self.database is not None else ""
        query = "&".join(f"{quote(k, safe='')}={replaced[k] if k in replaced else quote(v, safe='')}" for k, v in self.query)
        return f"{self.scheme}://{userinfo}{host}{port}{database}" + (f"?{query}" if query else "")


def parse_dsn(text: str, where: str) -> Dsn:
    """Take a URL DSN apart; a malformed one is a ProfileError naming `where`, never its secrets."""
    match = _SCHEME.match(text.strip())
    if match is None:
        raise ProfileError(
            f"{where}: the DSN is not a URL (expected scheme://user:password@host:port/database)",
            hint="e.g. postgresql+psycopg://user:password@localhost:5432/analytics",
        )
    rest = match.group("rest")
    query_text = ""
    query_at = _QUERY_START.search(rest)
    if query_at is not None:
        rest, query_text = rest[: query_at.start()], rest[query_at.end():]
    username = password = None
    if "@" in rest:
        userinfo, rest = rest.rsplit("@", 1)
        user, sep, secret = userinfo.partition(":")
        username, password = unquote(user), (unquote(secret) if sep else None)
    authority, slash, database = rest.partition("/")
    parts = _HOST_PORT.match(authority)
    if parts is None:
        raise ProfileError(f"{where}: the DSN's host part is malformed", hint="write host:port, or [::1]:port for IPv6")
    port_text = parts.group("port")
    port = None
    if port_text:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ProfileError(
                f"{where}: the DSN's port is not a number from 1 to 65535",
                hint="write host:5432; a password with ':' or '@' belongs before the last '@'",
            )
        port = int(port_text)
    query = tuple(parse_qsl(query_text, keep_blank_values=True)) if query_text else ()
    return Dsn(
        scheme=match.group("scheme"),
        username=username,
        password=password,
        host=unquote(parts.group("host")).strip("[]") or None,
        port=port,
        database=unquote(database) if slash else None,
        query=query,
    )


def url_part(value: Any) -> str:
    """One part of a URL built from parts: its text percent-encoded, or, for a value that is one
    `{{ ... }}` template, the template with a filter that encodes its value where it is rendered."""
    text = str(value)
    if "{{" not in text:
        return quote(text, safe="")
    return "{{ (" + whole_template(text, "a database URL") + ") | url_part }}"


def whole_template(text: str, inside: str) -> str:
    """The expression of a value that is one `{{ ... }}` template, to be rendered where it is
    written into `inside` with a filter that escapes it there; text mixed with a template is
    an error (its parts could not be escaped apart)."""
    whole = _WHOLE_TEMPLATE.fullmatch(text.strip())
    if whole is None:
        raise ProfileError(
            f"{text!r} mixes text and a template inside {inside}",
            hint="write the whole value as one template, e.g. \"{{ env_var('DBT_PASSWORD') }}\"",
        )
    return whole.group(1).strip()


def dsn_from_parts(
    scheme: str, user: Any, password: Any, host: Any, port: Any, database: Any, query: Mapping[str, Any] | None = None
) -> str:
    """A URL DSN from separate settings (an Airflow connection, a dbt output). A port given by a
    template goes in the query (`port=`), where its text is not parsed before it is rendered."""
    userinfo = ""
    if user is not None:
        userinfo = url_part(user) + (f":{url_part(password)}" if password not in (None, "") else "") + "@"
    params = {k: v for k, v in (query or {}).items() if v is not None}
    port_text = ""
    if port is not None and "{{" in str(port):
        params["port"] = port
    elif port is not None:
        port_text = f":{int(port)}"
    text = f"{scheme}://{userinfo}{url_part(host) if host else ''}{port_text}/{url_part(database) if database else ''}"
    if params:
        text += "?" + "&".join(f"{quote(k, safe='')}={url_part(v)}" for k, v in params.items())
    return text


def redact(text: str, secrets: list[str]) -> str:
    """`text` with every secret (as written, and URL-encoded) replaced by ***."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        for form in {secret, quote(secret, safe=""), quote(secret)}:
            text = text.replace(form, REDACTED)
    return text
