"""A :class:`GalleryQuery` turned into SQL: FTS5 prefix search plus column filters.

Plans that stay fast at a million rows: a page reads one page of an index in order (the time
index, or the full-text index, whose rowids sort newest first); a count of more than a page's
worth is asked for separately (``select_count`` with a cap first, the exact one deferred).
"""

from __future__ import annotations

import re

from sd21_desktop.engine.request import MAX_SEED
from sd21_desktop.errors import UserFacingError
from sd21_desktop.gallery.entries import ENTRY_COLUMNS, GalleryQuery, seed_to_column

# unicode61 splits on everything but letters and digits (underscore included), so we cut the
# user's text the same way; quoting each word keeps FTS5 syntax ("AND", "-", "(", ":") inert.
_WORD = re.compile(r"[^\W_]+")
ORDER = "ORDER BY created DESC, id DESC"
ORDERS = ("newest", "seed")
"""The orders a :class:`GalleryQuery` may ask for (the ``seed`` column keeps seeds' order)."""


def _order_by(order: str, table: str) -> str:
    """The ``ORDER BY`` of an order other than "newest" (``table``: the entries' alias)."""
    if order != "seed":
        raise UserFacingError(
            f"Unknown gallery order {order!r}.", f"Use one of: {', '.join(ORDERS)}."
        )
    return f"ORDER BY {table}seed IS NULL, {table}seed, {table}id"
_PREFIXED = ", ".join(f"e.{column.strip()}" for column in ENTRY_COLUMNS.split(","))


def match_expression(text: str, include_negative: bool = True) -> str | None:
    """An FTS5 MATCH string where every word must appear as a prefix, or None for no words."""
    words = _WORD.findall(text)
    if not words:
        return None
    terms = " ".join(f'"{word}"*' for word in words)
    return terms if include_negative else f"prompt : ({terms})"


def where_clause(query: GalleryQuery, table: str = "") -> tuple[list[str], list[object]]:
    """The conditions besides the text (never empty: trash or not is always decided) and their
    parameters; ``table`` prefixes the columns (``"e."``)."""
    deleted = f"{table}deleted_at"
    conditions = [f"{deleted} IS NOT NULL" if query.in_trash else f"{deleted} IS NULL"]
    params: list[object] = []
    for column, value in (
        ("model", query.model),
        ("mode", query.mode),
        ("width", query.width),
        ("height", query.height),
        ("origin", query.origin),
    ):
        if value is not None:
            conditions.append(f"{table}{column} = ?")
            params.append(value)
    if query.created_from is not None:
        conditions.append(f"{table}created >= ?")
        params.append(query.created_from)
    if query.created_until is not None:
        conditions.append(f"{table}created < ?")
        params.append(query.created_until)
    if query.seed is not None:
        if not 0 <= query.seed <= MAX_SEED:
            raise UserFacingError(f"A seed is from 0 to {MAX_SEED}; got {query.seed}.")
        conditions.append(f"{table}seed = ?")
        params.append(seed_to_column(query.seed))
    if query.favourites_only:
        conditions.append(f"{table}favourite = 1")
    return conditions, params


def _source(query: GalleryQuery) -> tuple[str, str, list[object]]:
    """``FROM … WHERE …``, the order, and the parameters of ``query``.

    Without words: the entries in the time index (``entries_by_time``). With words: the
    full-text index drives, newest match first (its rowid is ``fts_key``, which sorts like
    "newest first"), and each match is checked against the other conditions through
    ``entries_by_fts_key``; SQLite stops after one page instead of collecting every match
    (CROSS JOIN keeps that loop order; INDEXED BY keeps a date filter from choosing the time
    index for the inner loop). The trash and the favourites have partial indexes in time order.
    """
    expression = match_expression(query.text, query.include_negative)
    if expression is None:
        conditions, params = where_clause(query)
        return f"FROM entries WHERE {' AND '.join(conditions)}", ORDER, params
    if len(where_clause(query)[0]) > 1:
        # Words and filters: the filters usually keep few of the matches, so walking the
        # matches newest first would read many rows; the set of matches (cheap with the prefix
        # indexes) checked along the time index of the filtered rows reads fewer.
        conditions, params = where_clause(query)
        conditions.append("fts_key IN (SELECT rowid FROM entries_fts WHERE entries_fts MATCH ?)")
        return f"FROM entries WHERE {' AND '.join(conditions)}", ORDER, [*params, expression]
    conditions, params = where_clause(query, "e.")
    source = (
        "FROM entries_fts AS f CROSS JOIN entries AS e INDEXED BY entries_by_fts_key "
        "ON e.fts_key = f.rowid "
        f"WHERE f.entries_fts MATCH ? AND {' AND '.join(conditions)}"
    )
    return source, "ORDER BY f.rowid DESC", [expression, *params]


def select_page(query: GalleryQuery, offset: int, limit: int) -> tuple[str, list[object]]:
    source, order, params = _source(query)
    joined = not source.startswith("FROM entries ")
    if query.order != "newest":
        order = _order_by(query.order, "e." if joined else "")
    columns = _PREFIXED if joined else ENTRY_COLUMNS
    sql = f"SELECT {columns} {source} {order} LIMIT ? OFFSET ?"
    return sql, [*params, max(0, limit), max(0, offset)]


def select_count(query: GalleryQuery, cap: int | None = None) -> tuple[str, list[object]]:
    """The count of ``query``; with ``cap``, of at most ``cap`` rows (cost bounded by it)."""
    source, _, params = _source(query)
    if cap is None:
        return f"SELECT count(*) {source}", params
    return f"SELECT count(*) FROM (SELECT 1 {source} LIMIT ?)", [*params, cap]
