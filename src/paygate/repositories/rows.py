"""Inserting mapped objects with Core statements on hot paths (issue 11).

The ORM's unit of work (identity map, dependency sort, per-attribute history, one flush per
batch) costs several times the INSERT itself for a row that is written once and read back
only through the object already in hand. :func:`insert_rows` writes such objects with one
Core ``INSERT`` each (``RETURNING id`` where the database has it, else its last row id) and
leaves them *detached with an identity*: every column is set on the object, so a later unit
of work can attach it (``session.add``) and change it like a row it had loaded — the version
check included."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, bindparam, func, insert, inspect, null, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapper, make_transient_to_detached
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.sql.schema import ColumnDefault

__all__ = ["insert_family", "insert_rows", "insert_values", "update_guarded"]


def _row(obj: Any, mapper: Mapper[Any]) -> dict[str, Any]:
    """Every column's value for ``obj``: what is set, else the column's Python default, else
    None; set back on ``obj`` so that it is complete. The primary key is left out."""
    state = obj.__dict__
    version = mapper.version_id_col
    values: dict[str, Any] = {}
    for prop in mapper.column_attrs:
        column = prop.columns[0]
        if column.primary_key:
            continue
        key = prop.key
        if key in state:
            value = state[key]
        elif version is not None and column is version:
            value = 1
        elif isinstance(column.default, ColumnDefault):
            arg = column.default.arg
            value = arg(None) if column.default.is_callable else arg
        else:
            value = None
        if key not in state:
            setattr(obj, key, value)
        values[column.key] = value
    return values


def insert_values(obj: Any) -> dict[str, Any]:
    """The column values :func:`insert_rows` writes for ``obj`` (its defaults filled in)."""
    return _row(obj, obj.__mapper__)


async def insert_rows(session: AsyncSession, objs: Sequence[Any], *, returning_ids: bool = True) -> None:
    """INSERT ``objs`` (all of one mapped class) now, in ``session``'s transaction.

    With ``returning_ids`` each object gets its id and becomes detached-with-identity (one
    statement per row); without, the rows go in one executemany and the objects are not
    usable afterwards except for what was set on them. A unique-key collision raises
    IntegrityError, as a flush would."""
    if not objs:
        return
    mapper: Mapper[Any] = objs[0].__mapper__
    table = mapper.local_table
    assert isinstance(table, Table)
    rows = [_row(obj, mapper) for obj in objs]
    if not returning_ids:
        await session.execute(insert(table), rows)
        return
    pk = table.primary_key.columns.values()[0]
    can_return = session.get_bind().dialect.insert_returning
    stmt = insert(table).returning(pk) if can_return else insert(table)
    for obj, row in zip(objs, rows, strict=True):
        result: Any = await session.execute(stmt, row)  # a CursorResult: it has the key
        setattr(obj, pk.key, result.scalar_one() if can_return else result.inserted_primary_key[0])
        make_transient_to_detached(obj)


async def insert_family(
    session: AsyncSession,
    parent: Any,
    children: Sequence[tuple[Sequence[Any], str | None, bool]],
) -> None:
    """INSERT ``parent`` and its ``children`` now; each child group is ``(objects, foreign
    key attribute, whether the objects get their ids)``. The foreign keys are set to the
    parent's new id; a group without one (``None``) is rows written in the same statement.

    On PostgreSQL this is one statement — the children's INSERTs are data-modifying CTEs that
    take the parent's id from its ``RETURNING`` — so it is atomic on its own and costs one round
    trip (run it in :meth:`Database.single_statement` to spare BEGIN and COMMIT too). Elsewhere
    it is one INSERT per row with ids, one executemany per group without, in the caller's
    transaction. Objects with ids come back detached-with-identity, like :func:`insert_rows`."""
    if any(with_ids and len(objs) > 1 for objs, _, with_ids in children):
        raise ValueError("insert_family gives ids to single-object child groups only")
    if session.get_bind().dialect.name != "postgresql":
        await insert_rows(session, [parent])
        for objs, fk, with_ids in children:
            for obj in objs:
                if fk is not None:
                    setattr(obj, fk, parent.id)
            await insert_rows(session, objs, returning_ids=with_ids)
        return
    mapper: Mapper[Any] = parent.__mapper__
    params = {f"p_{k}": v for k, v in _row(parent, mapper).items()}
    groups = []
    for i, (objs, fk, with_ids) in enumerate(children):
        if not objs:
            continue
        cmapper: Mapper[Any] = objs[0].__mapper__
        fk_column = None if fk is None else cmapper.get_property(fk).columns[0].key
        for j, obj in enumerate(objs):
            if fk is not None:
                setattr(obj, fk, 0)  # a placeholder until the id is known
            params.update({f"c{i}_{j}_{k}": v for k, v in _row(obj, cmapper).items() if k != fk_column})
        groups.append((i, cmapper, fk_column, len(objs), with_ids))
    shape = (mapper, tuple(groups))
    query = _FAMILY_STATEMENTS.get(shape)
    if query is None:
        query = _FAMILY_STATEMENTS[shape] = _family_statement(mapper, groups)
    wanted = [objs for objs, _, with_ids in children if objs and with_ids]
    result = await session.execute(query, params)
    rows_back = result.all()
    parent_id_value = rows_back[0][0]
    setattr(parent, str(mapper.primary_key[0].key), parent_id_value)
    make_transient_to_detached(parent)
    for objs, fk, _ in children:
        for obj in objs:
            if fk is not None:
                setattr(obj, fk, parent_id_value)
    for index, objs in enumerate(wanted, start=1):
        obj = objs[0]
        setattr(obj, obj.__mapper__.primary_key[0].key, rows_back[0][index])
        make_transient_to_detached(obj)


#: one statement object per shape (parent class, children's classes and counts): its values are
#: bound parameters, so SQLAlchemy compiles it once and asyncpg prepares it once per connection
_FAMILY_STATEMENTS: dict[tuple[Any, ...], Any] = {}


def _columns(mapper: Mapper[Any]) -> list[Any]:
    return [prop.columns[0] for prop in mapper.column_attrs if not prop.columns[0].primary_key]


def _family_statement(
    mapper: Mapper[Any], groups: list[tuple[int, Mapper[Any], str | None, int, bool]]
) -> Any:
    table = mapper.local_table
    assert isinstance(table, Table)
    pk = table.primary_key.columns.values()[0]
    head = (
        insert(table)
        .values({c.key: bindparam(f"p_{c.key}", type_=c.type) for c in _columns(mapper)})
        .returning(pk)
        .cte("parent_row")
    )
    parent_id = select(head.c[pk.key]).scalar_subquery()
    ctes, wanted = [], []
    for i, cmapper, fk_column, count, with_ids in groups:
        ctable = cmapper.local_table
        assert isinstance(ctable, Table)
        for j in range(count):  # one single-row INSERT per row: a multi-row VALUES is never cached
            values = {
                c.key: parent_id if c.key == fk_column else bindparam(f"c{i}_{j}_{c.key}", type_=c.type)
                for c in _columns(cmapper)
            }
            stmt: Any = insert(ctable).values(values)
            if with_ids:
                cpk = ctable.primary_key.columns.values()[0]
                stmt = stmt.returning(cpk)
            cte = stmt.cte(f"child_{i}_{j}")
            ctes.append(cte)
            if with_ids:
                wanted.append(cte.c[cpk.key])
    source: Any = head
    for column in wanted:  # one row each: joined on nothing, explicitly (no cartesian warning)
        source = source.join(column.table, true())
    query = select(head.c[pk.key], *wanted).select_from(source)
    for cte in ctes:
        query = query.add_cte(cte)
    return query


async def update_guarded(
    session: AsyncSession,
    target: Any,
    rows: Sequence[Any] = (),
    parent: Any = None,
    children: Sequence[Any] = (),
    fk: str | None = None,
) -> bool:
    """Write the changes made to ``target`` — a versioned row read by an earlier unit of work,
    now detached — under its version check, and only if that wins, INSERT ``rows``,
    ``parent`` and ``children`` (their ``fk`` set to the parent's new id).

    True when written. False when the version check failed: a concurrent writer changed the
    row since it was read, and nothing was written. A unique-key collision of an inserted row
    raises IntegrityError, and nothing was written either.

    On PostgreSQL this is one statement: an ``UPDATE … WHERE id = … AND version = …
    RETURNING id`` whose result every INSERT (a data-modifying CTE) selects from, so the rows
    exist exactly when the update happened; it is atomic on its own and costs one round trip
    (run it in :meth:`Database.single_statement`). Elsewhere it is a flush and INSERTs in the
    caller's transaction, which the caller rolls back on False."""
    mapper: Mapper[Any] = target.__mapper__
    version_column = mapper.version_id_col
    assert version_column is not None, "update_guarded needs a versioned row"
    version_key = str(mapper.get_property_by_column(version_column).key)
    modified = inspect(target).committed_state  # the loaded value of each attribute set since
    changed = [p for p in mapper.column_attrs if p.key in modified]
    if session.get_bind().dialect.name != "postgresql":
        session.add(target)
        try:
            await session.flush([target])
        except StaleDataError:
            return False
        for row in rows:
            await insert_rows(session, [row], returning_ids=False)
        if parent is not None:
            await insert_family(session, parent, [(children, fk, False)])
        return True
    expected = getattr(target, version_key)
    for prop in mapper.column_attrs:  # what the ORM's flush sets besides the changes
        column = prop.columns[0]
        if isinstance(column.onupdate, ColumnDefault) and column.onupdate.is_callable and prop not in changed:
            setattr(target, prop.key, column.onupdate.arg(None))
            changed.append(prop)
    set_columns = tuple(p.columns[0] for p in changed if p.columns[0] is not version_column)
    params: dict[str, Any] = {"g_pk": getattr(target, str(mapper.primary_key[0].key)), "g_expected": expected}
    params.update(
        {f"g_{c.key}": getattr(target, str(mapper.get_property_by_column(c).key)) for c in set_columns}
    )
    params[f"g_{version_column.key}"] = expected + 1
    row_mappers = []
    for i, row in enumerate(rows):
        rmapper: Mapper[Any] = row.__mapper__
        row_mappers.append(rmapper)
        params.update({f"r{i}_{k}": v for k, v in _row(row, rmapper).items()})
    pmapper: Mapper[Any] | None = None
    cmapper: Mapper[Any] | None = None
    fk_column = None
    if parent is not None:
        pmapper = parent.__mapper__
        params.update({f"p_{k}": v for k, v in _row(parent, pmapper).items()})
        if children:
            cmapper = children[0].__mapper__
            fk_column = None if fk is None else cmapper.get_property(fk).columns[0].key
            for j, child in enumerate(children):
                if fk is not None:
                    setattr(child, fk, 0)  # a placeholder until the id is known
                values = _row(child, cmapper).items()
                params.update({f"c{j}_{k}": v for k, v in values if k != fk_column})
    shape = (mapper, set_columns, tuple(row_mappers), pmapper, cmapper, len(children), fk_column)
    query = _GUARDED_STATEMENTS.get(shape)
    if query is None:
        query = _GUARDED_STATEMENTS[shape] = _guarded_statement(*shape)
    moved, parent_id = (await session.execute(query, params)).one()
    if not moved:
        return False
    setattr(target, version_key, expected + 1)
    if parent is not None:
        setattr(parent, str(pmapper.primary_key[0].key), parent_id)  # type: ignore[union-attr]
        for child in children:
            if fk is not None:
                setattr(child, fk, parent_id)
    return True


_GUARDED_STATEMENTS: dict[tuple[Any, ...], Any] = {}


def _guarded_statement(
    mapper: Mapper[Any],
    set_columns: tuple[Any, ...],
    row_mappers: tuple[Mapper[Any], ...],
    pmapper: Mapper[Any] | None,
    cmapper: Mapper[Any] | None,
    child_count: int,
    fk_column: str | None,
) -> Any:
    table = mapper.local_table
    assert isinstance(table, Table)
    pk = table.primary_key.columns.values()[0]
    version = mapper.version_id_col
    assert version is not None
    values = {c.key: bindparam(f"g_{c.key}", type_=c.type) for c in set_columns}
    values[version.key] = bindparam(f"g_{version.key}", type_=version.type)
    moved = (
        update(table)
        .where(pk == bindparam("g_pk", type_=pk.type), version == bindparam("g_expected", type_=version.type))
        .values(values)
        .returning(pk)
        .cte("moved")
    )

    def from_source(target: Mapper[Any], prefix: str, source: Any, own: dict[str, Any]) -> Any:
        columns = _columns(target)
        selected = [
            own[c.key] if c.key in own else bindparam(f"{prefix}{c.key}", type_=c.type) for c in columns
        ]
        into = target.local_table
        assert isinstance(into, Table)
        return insert(into).from_select([c.key for c in columns], select(*selected).select_from(source))

    ctes = [
        from_source(rmapper, f"r{i}_", moved, {}).cte(f"row_{i}") for i, rmapper in enumerate(row_mappers)
    ]
    outputs: list[Any] = [select(func.count()).select_from(moved).scalar_subquery()]
    if pmapper is not None:
        ptable = pmapper.local_table
        assert isinstance(ptable, Table)
        ppk = ptable.primary_key.columns.values()[0]
        head = from_source(pmapper, "p_", moved, {}).returning(ppk).cte("parent_row")
        ctes.append(head)
        outputs.append(select(head.c[ppk.key]).scalar_subquery())
        if cmapper is not None:
            for j in range(child_count):
                own = {} if fk_column is None else {fk_column: head.c[ppk.key]}
                ctes.append(from_source(cmapper, f"c{j}_", head, own).cte(f"child_{j}"))
    else:
        outputs.append(null())
    query = select(*outputs)
    for cte in ctes:
        query = query.add_cte(cte)
    return query
