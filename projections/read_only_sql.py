"""Read-only SQL: is a statement one reading statement, and how to run it so it stays one.

Read-only is enforced in layers. The statement is scanned (string literals, quoted names and
comments understood) and must be one SELECT/SHOW/DESCRIBE/EXISTS/WITH/EXPLAIN statement with no
`INTO OUTFILE` that calls none of the functions that reach outside the warehouse (files, URLs,
other servers, object stores, the Python process: see `OUTSIDE_FUNCTIONS`). Then it runs with
ClickHouse's own `readonly=2` setting, which refuses every write, DDL statement and change of
`readonly` whatever the text looked like. The function check is needed because `readonly=2`
alone still lets `SELECT file('/etc/passwd')` or `SELECT * FROM file(...)` read the host's files.

Settings a client asks for (the ClickHouse HTTP interface takes them as URL parameters) are
applied only when they are in `CLIENT_SETTINGS`, which shape results and bound the work; every
other one is ignored, never applied.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from touchstream.projections.warehouse import sql_literal

_READING = re.compile(r"(SELECT|SHOW|DESCRIBE|DESC|EXISTS|WITH|EXPLAIN)\b", re.IGNORECASE)
_OUTFILE = re.compile(r"\bINTO\s+OUTFILE\b", re.IGNORECASE)
# A call: a plain or quoted name, then `(`; comments are already blanked in the scanned code.
_CALL = re.compile(r"(?:`([^`]*)`|\"([^\"]*)\"|\b([A-Za-z_]\w*))\s*\(")
_FORMAT = re.compile(r"\bFORMAT\s+([A-Za-z]\w*)\s*(?:\bSETTINGS\b[^()]*)?$", re.IGNORECASE)
_QUOTES = {"'": "'", '"': '"', "`": "`"}
_NAME_QUOTES = {'"', "`"}
_PLAIN_NAME = re.compile(r"\w*")
_UNREADABLE_NAME = "?"  # what a quoted name with escapes becomes in the scanned code

# Table functions that only compute or read the warehouse's own tables.
_LOCAL = """
numbers numbers_mt zeros zeros_mt primes generate_series generateSeries generateRandom values
SQLStandardValues null view viewIfPermitted viewExplain merge dictionary format
"""
LOCAL_TABLE_FUNCTIONS = frozenset(name.lower() for name in _LOCAL.split())

# Functions (table functions and the `file` function) that read or write outside the warehouse:
# the host's files, URLs, other servers and databases, object stores, executables, the embedding
# Python process. Names compare case-insensitively. tests/e2e/test_bi_endpoint.py checks that
# every table function chDB knows is in one of these two sets, so an engine upgrade that adds
# one fails a test until it is classified here.
_OUTSIDE = """
file fileCluster filesystem url urlCluster s3 s3Cluster gcs oss cosn hdfs hdfsCluster
azureBlobStorage azureBlobStorageCluster remote remoteSecure cluster clusterAllReplicas
mysql postgresql sqlite mongodb redis odbc jdbc bigquery ytsaurus arrowstream
executable eval input python loop fuzzJSON fuzzQuery prometheusQuery prometheusQueryRange
timeSeriesData timeSeriesMetricFamilies timeSeriesMetrics timeSeriesSamples timeSeriesSelector
timeSeriesTags mergeTreeAnalyzeIndexes mergeTreeAnalyzeIndexesUUID mergeTreeCodecBlockCounts
mergeTreeIndex mergeTreeProjection mergeTreeTextIndex
iceberg icebergAzure icebergAzureCluster icebergCluster icebergHDFS icebergHDFSCluster
icebergLocal icebergLocalCluster icebergS3 icebergS3Cluster
deltaLake deltaLakeAzure deltaLakeAzureCluster deltaLakeCluster deltaLakeLocal deltaLakeS3
deltaLakeS3Cluster hudi hudiCluster
paimon paimonAzure paimonAzureCluster paimonCluster paimonHDFS paimonHDFSCluster paimonLocal
paimonS3 paimonS3Cluster
"""
OUTSIDE_FUNCTIONS = frozenset(name.lower() for name in _OUTSIDE.split())

# Settings a client may pass along (as ClickHouse HTTP URL parameters): result shape and limits.
CLIENT_SETTINGS = frozenset(
    {
        "max_execution_time",
        "max_result_rows",
        "max_result_bytes",
        "result_overflow_mode",
        "max_rows_to_read",
        "max_bytes_to_read",
        "read_overflow_mode",
        "extremes",
        "date_time_output_format",
        "output_format_json_quote_64bit_integers",
        "output_format_json_quote_decimals",
        "output_format_json_quote_denormals",
        "output_format_json_named_tuples_as_objects",
        "output_format_decimal_trailing_zeros",
    }
)
_SETTING_VALUE = re.compile(r"[\w.+-]{1,64}")


class QueryRefused(ValueError):
    """The statement is not a single reading statement."""


def _scan(sql: str) -> tuple[str, str]:
    """Split `sql` into (code, text): `code` has literals emptied, quoted names kept only when
    they are plain words, and comments blanked, so the keywords, calls and `;` found in it are
    really code; `text` is the statement without its comments, literals intact, which is what
    will run. Raises QueryRefused on an unterminated literal or comment."""
    code, text, i, n = [], [], 0, len(sql)
    while i < n:
        ch = sql[i]
        if ch in _QUOTES:
            end = i + 1
            while end < n and sql[end] != ch:
                end += 2 if sql[end] == "\\" else 1
            if end >= n:
                raise QueryRefused("unterminated quoted string or name")
            inner = sql[i + 1 : end]
            if ch in _NAME_QUOTES:
                # `file`(...) and `\x66ile`(...) both call file(): keep plain names visible,
                # and mark names with escapes so that calling one is refused
                plain = _PLAIN_NAME.fullmatch(inner)
                code.append(ch + (inner if plain else _UNREADABLE_NAME) + ch)
            else:
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


def _outside_call(code: str) -> str | None:
    """The first function called in `code` that reaches outside the warehouse, if any."""
    for match in _CALL.finditer(code):
        name = next(group for group in match.groups() if group is not None)
        if name == _UNREADABLE_NAME or name.lower() in OUTSIDE_FUNCTIONS:
            return name
    return None


def _settings_clause(settings: Mapping[str, str] | None) -> str:
    """`readonly=2` first (so nothing after it can lower it), then the allowed client settings
    with values that are plain words or numbers, quoted as literals."""
    parts = ["readonly=2"]
    for name, value in sorted((settings or {}).items()):
        if name in CLIENT_SETTINGS and _SETTING_VALUE.fullmatch(value):
            parts.append(f"{name}={sql_literal(value)}")
    return "SETTINGS " + ", ".join(parts)


def read_only_statement(sql: str, settings: Mapping[str, str] | None = None) -> str:
    """`sql` made safe to run: one reading statement, run under ClickHouse's readonly mode.

    `settings` are the settings a client asked for; those in CLIENT_SETTINGS are applied, the
    others ignored."""
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
    outside = _outside_call(code)
    if outside is not None:
        raise QueryRefused(
            f"read-only endpoint: {outside}() reaches outside the warehouse and is not allowed"
        )
    # `text` has the same code outside literals, so its trailing `;` are the same ones
    return f"{_strip_semicolons(text)}\n{_settings_clause(settings)}"


def explicit_format(sql: str) -> str | None:
    """The output format named by the statement's own `FORMAT` clause, if it has one (it wins
    over the HTTP `default_format`, as in ClickHouse)."""
    try:
        code, _ = _scan(sql)
    except QueryRefused:
        return None
    match = _FORMAT.search(_strip_semicolons(code))
    return match[1] if match else None


def read_only_problem(sql: str) -> str | None:
    """Why `sql` is refused, or None when it is a single reading statement."""
    try:
        read_only_statement(sql)
    except QueryRefused as exc:
        return str(exc)
    return None
