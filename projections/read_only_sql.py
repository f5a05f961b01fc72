"""Read-only SQL: is a statement one reading statement, and how to run it so it stays one.

Read-only is enforced twice: the statement is scanned (string literals, quoted names and
comments understood) and must be one SELECT/SHOW/DESCRIBE/EXISTS/WITH/EXPLAIN statement with no
`INTO OUTFILE`; then it runs with ClickHouse's own `readonly=2` setting, which refuses every
write and every file or network table function whatever the text looked like.
"""

from __future__ import annotations

import re

_READING = re.compile(r"(SELECT|SHOW|DESCRIBE|DESC|EXISTS|WITH|EXPLAIN)\b", re.IGNORECASE)
_OUTFILE = re.compile(r"\bINTO\s+OUTFILE\b", re.IGNORECASE)
_QUOTES = {"'": "'", '"': '"', "`": "`"}


class QueryRefused(ValueError):
    """The statement is not a single reading statement."""


def _scan(sql: str) -> tuple[str, str]:
    """Split `sql` into (code, text): `code` has literals emptied and comments blanked, so the
    keywords and `;` found in it are really code; `text` is the statement without its comments,
    literals intact, which is what will run. Raises QueryRefused on an unterminated literal or
    comment."""
    code, text, i, n = [], [], 0, len(sql)
    while i < n:
        ch = sql[i]
        if ch in _QUOTES:
            end = i + 1
            while end < n and sql[end] != ch:
                end += 2 if sql[end] == "\\" else 1
            if end >= n:
                raise QueryRefused("unterminated quoted string or name")
            code.append(ch + ch)
            text.append(sql[i : end + 1])
            i = end + 1
        elif sql.startswith("--", i) or ch == "#":
            end = sql.find("\n", i)
            i = n if end < 0 else end
            code.append(" ")
            text.append(" ")
        elif sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            if end < 0:
                raise QueryRefused("unterminated comment")
            i = end + 2
            code.append(" ")
            text.append(" ")
        else:
            code.append(ch)
            text.append(ch)
            i += 1
    return "".join(code), "".join(text)


def _strip_semicolons(statement: str) -> str:
    statement = statement.strip()
    while statement.endswith(";"):
        statement = statement[:-1].rstrip()
    return statement


def read_only_statement(sql: str) -> str:
    """`sql` made safe to run: one reading statement, run under ClickHouse's readonly mode."""
    code, text = _scan(sql)
    code = _strip_semicolons(code)
    if not code:
        raise QueryRefused("empty query")
    if ";" in code:
        raise QueryRefused("one statement per request")
    if not _READING.match(code):
        raise QueryRefused(
            "read-only endpoint: only SELECT, SHOW, DESCRIBE, EXISTS, WITH and EXPLAIN are allowed"
        )
    if _OUTFILE.search(code):
        raise QueryRefused("read-only endpoint: INTO OUTFILE is not allowed")
    # `text` has the same code outside literals, so its trailing `;` are the same ones
    return f"{_strip_semicolons(text)}\nSETTINGS readonly=2"


def read_only_problem(sql: str) -> str | None:
    """Why `sql` is refused, or None when it is a single reading statement."""
    try:
        read_only_statement(sql)
    except QueryRefused as exc:
        return str(exc)
    return None
