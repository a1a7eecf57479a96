"""A :class:`GalleryQuery` turned into SQL: FTS5 prefix search plus column filters."""

from __future__ import annotations

import re

from sd21_desktop.engine.request import MAX_SEED
from sd21_desktop.errors import UserFacingError
from sd21_desktop.gallery.entries import ENTRY_COLUMNS, GalleryQuery, seed_to_column

# unicode61 splits on everything but letters and digits (underscore included), so we cut the
# user's text the same way; quoting each word keeps FTS5 syntax ("AND", "-", "(", ":") inert.
_WORD = re.compile(r"[^\W_]+")
ORDER = "ORDER BY created DESC, id DESC"
ORDERS = {"newest": ORDER, "seed": "ORDER BY seed IS NULL, seed, id"}
"""The orders a :class:`GalleryQuery` may ask for (the ``seed`` column keeps seeds' order)."""


def match_expression(text: str, include_negative: bool = True) -> str | None:
    """An FTS5 MATCH string where every word must appear as a prefix, or None for no words."""
    words = _WORD.findall(text)
    if not words:
        return None
    terms = " ".join(f'"{word}"*' for word in words)
    return terms if include_negative else f"prompt : ({terms})"


def where_clause(query: GalleryQuery) -> tuple[str, list[object]]:
    """``WHERE …`` (never empty: trash or not is always decided) and its parameters."""
    conditions = ["deleted_at IS NOT NULL" if query.in_trash else "deleted_at IS NULL"]
    params: list[object] = []
    expression = match_expression(query.text, query.include_negative)
    if expression is not None:
        # A subquery, not a join: SQLite builds the matching rowid set once, then walks the
        # time index for the newest ones.
        conditions.append("id IN (SELECT rowid FROM entries_fts WHERE entries_fts MATCH ?)")
        params.append(expression)
    for column, value in (
        ("model", query.model),
        ("mode", query.mode),
        ("width", query.width),
        ("height", query.height),
        ("origin", query.origin),
    ):
        if value is not None:
            conditions.append(f"{column} = ?")
            params.append(value)
    if query.created_from is not None:
        conditions.append("created >= ?")
        params.append(query.created_from)
    if query.created_until is not None:
        conditions.append("created < ?")
        params.append(query.created_until)
    if query.seed is not None:
        if not 0 <= query.seed <= MAX_SEED:
            raise UserFacingError(f"A seed is from 0 to {MAX_SEED}; got {query.seed}.")
        conditions.append("seed = ?")
        params.append(seed_to_column(query.seed))
    if query.favourites_only:
        conditions.append("favourite = 1")
    return "WHERE " + " AND ".join(conditions), params


def select_page(query: GalleryQuery, offset: int, limit: int) -> tuple[str, list[object]]:
    where, params = where_clause(query)
    order = ORDERS.get(query.order)
    if order is None:
        raise UserFacingError(
            f"Unknown gallery order {query.order!r}.", f"Use one of: {', '.join(ORDERS)}."
        )
    sql = f"SELECT {ENTRY_COLUMNS} FROM entries {where} {order} LIMIT ? OFFSET ?"
    return sql, [*params, max(0, limit), max(0, offset)]


def select_count(query: GalleryQuery) -> tuple[str, list[object]]:
    where, params = where_clause(query)
    return f"SELECT count(*) FROM entries {where}", params
