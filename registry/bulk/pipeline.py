"""Import and export of the whole book: validate everything first, then write in one transaction."""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, cast

import anyio
import polars as pl

from registry import audit, clock
from registry.bulk.book import BookFile, ImportContext
from registry.bulk.checks import ERRORS_SCHEMA, ROW, collect_errors
from registry.bulk.database import BulkDb
from registry.bulk.files import LoadedFile, find_book_files, read_book_file, write_book_file
from registry.bulk.limits import ReadLimits
from registry.db import is_postgres, no_statement_timeout, write_transaction
from registry.tables import AuditEvent

MAX_SHOWN_ERRORS = 1000
log = logging.getLogger("registry.bulk")


class ImportRefused(Exception):
    """The book was not written; `errors` lists every bad cell (file, row, column, reason)."""

    def __init__(self, errors: pl.DataFrame) -> None:
        self.errors = errors
        super().__init__(f"{errors.height} errors; nothing was written")

    def lines(self, limit: int = MAX_SHOWN_ERRORS) -> list[str]:
        shown = [
            f"{f}: row {r if r else 'header'}, column {c or '-'}: {why}"
            for f, r, c, why in self.errors.head(limit).iter_rows()
        ]
        if self.errors.height > limit:
            shown.append(f"... and {self.errors.height - limit} more errors")
        return shown


class Stopwatch:
    """Seconds spent per step, so an operator can see where a slow import goes."""

    def __init__(self) -> None:
        self.steps: list[tuple[str, float]] = []
        self._mark = time.perf_counter()

    def lap(self, step: str) -> None:
        now = time.perf_counter()
        self.steps.append((step, now - self._mark))
        log.info("import step %s: %.2f s", step, now - self._mark)
        self._mark = now


@dataclass(frozen=True, slots=True)
class ImportResult:
    files: dict[str, dict[str, Any]]  # name -> rows, written, sha256
    timings: list[tuple[str, float]] = field(default_factory=list)

    def describe(self) -> str:
        parts = [f"{n}: {f['rows']} rows ({f['written']} inserted or changed)" for n, f in self.files.items()]
        return "imported " + "; ".join(parts)


def order_files(files: Sequence[BookFile]) -> list[BookFile]:
    """Dependency order: a file comes after every file it references."""
    by_name = {f.name: f for f in files}
    done: list[BookFile] = []

    def visit(f: BookFile, path: tuple[str, ...]) -> None:
        if f in done:
            return
        if f.name in path:
            raise ValueError(f"book files reference each other in a cycle: {' -> '.join((*path, f.name))}")
        for ref in f.references:
            if ref.target in by_name and ref.target != f.name:
                visit(by_name[ref.target], (*path, f.name))
        done.append(f)

    for f in files:
        visit(f, ())
    return done


def _sort_errors(errors: list[pl.DataFrame], order: list[str]) -> pl.DataFrame:
    rank = {name: i for i, name in enumerate(order)}
    frame = pl.concat(errors) if errors else pl.DataFrame(schema=ERRORS_SCHEMA)
    return (
        frame.with_columns(pl.col("file").replace_strict(rank, default=len(rank)).alias("_order"))
        .sort("_order", "row", "column")
        .drop("_order")
    )


async def _unresolved(
    ctx: ImportContext, file: BookFile, frame: pl.DataFrame, cell_errors: pl.DataFrame
) -> pl.DataFrame:
    """Rows whose references name nothing in this import nor in the database.

    Every row is looked at, not only rows without other errors, so one pass lists every problem;
    a reference cell that is itself malformed has already been reported."""
    errors = []
    for ref in file.references:
        malformed = cell_errors.filter(pl.col("column") == ref.column)["row"].implode()
        wanted = frame.select(ROW, ref.column).drop_nulls(ref.column).filter(~pl.col(ROW).is_in(malformed))
        in_import = ctx.keys.get(ref.target)
        if in_import is not None:
            wanted = wanted.filter(~pl.col(ref.column).is_in(in_import.implode()))
        if wanted.is_empty():
            continue
        distinct = wanted[ref.column].unique().to_list()
        found = set(await ctx.db.by_ref(ref.table, "id", distinct))
        missing = wanted.filter(~pl.col(ref.column).is_in(list(found)))
        errors.append(
            missing.select(
                pl.lit(file.name).alias("file"),
                pl.col(ROW).alias("row"),
                pl.lit(ref.column).alias("column"),
                pl.format(f"no {ref.target} row with ref {{}}", pl.col(ref.column)).alias("reason"),
            )
        )
    return pl.concat(errors) if errors else pl.DataFrame(schema=ERRORS_SCHEMA)


def load_directory(
    directory: Path, files: Sequence[BookFile], limits: ReadLimits | None = None
) -> tuple[dict[str, LoadedFile], list[pl.DataFrame]]:
    paths, problems = find_book_files(directory, [f.name for f in files])
    errors = [problems]
    loaded: dict[str, LoadedFile] = {}
    for f in files:
        if f.name in paths:
            book_file, header_errors = read_book_file(f.name, paths[f.name], f.columns, f.optional_columns, limits)
            errors.append(header_errors)
            if book_file is not None:
                loaded[f.name] = book_file
    return loaded, errors


def _check_cells(
    ordered: list[BookFile], loaded: dict[str, LoadedFile]
) -> tuple[dict[str, pl.DataFrame], dict[str, pl.DataFrame]]:
    """Each file's cell errors, and its rows that have none (no database needed)."""
    checked: dict[str, pl.DataFrame] = {}
    cell_errors: dict[str, pl.DataFrame] = {}
    for f in ordered:
        if f.name in loaded:
            frame = loaded[f.name].frame
            cell_errors[f.name] = collect_errors(f.name, frame, f.checks(), f.derived())
            checked[f.name] = frame.filter(~pl.col(ROW).is_in(cell_errors[f.name]["row"].implode()))
    return checked, cell_errors


class _LoopDb:
    """`ctx.db` for a preparation running in a worker thread: each database call is run on the import's own
    event loop (the connection belongs to it), the rest is the BulkDb itself."""

    def __init__(self, db: BulkDb, loop: asyncio.AbstractEventLoop) -> None:
        self._db = db
        self._loop = loop

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._db, name)
        if not inspect.iscoroutinefunction(attr):
            return attr

        async def on_loop(*args: Any, **kwargs: Any) -> Any:
            return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(attr(*args, **kwargs), self._loop))

        return on_loop


async def _prepare(
    ctx: ImportContext, f: BookFile, loaded: LoadedFile, checked: pl.DataFrame, cell_errors: pl.DataFrame
) -> tuple[pl.DataFrame, list[pl.DataFrame]]:
    """A file's reference and cross-file checks and its rows to write. On PostgreSQL in a worker thread: its
    Polars work then leaves the event loop free to feed the COPY of the file before (when the import writes
    as it goes), so PostgreSQL and Python each keep a core busy."""

    async def prepare(ctx: ImportContext) -> tuple[pl.DataFrame, list[pl.DataFrame]]:
        unresolved = await _unresolved(ctx, f, loaded.frame, cell_errors)
        staged, extra = await f.prepare(ctx, checked)
        return staged, [unresolved, extra]

    if not ctx.db.postgres:
        return await prepare(ctx)
    in_thread = replace(ctx, db=cast(BulkDb, _LoopDb(ctx.db, asyncio.get_running_loop())))
    return await anyio.to_thread.run_sync(asyncio.run, prepare(in_thread))


def _fresh(db: BulkDb, f: BookFile) -> bool:
    return bool(f.tables) and all(t in db.fresh for t in f.tables)


async def _write_file(
    ctx: ImportContext, f: BookFile, staged: pl.DataFrame, watch: Stopwatch, *, copy_only: bool = False
) -> dict[str, int] | None:
    """Write one file's rows: COPY into tables that were empty, else stage and upsert (None when `copy_only`
    and the file cannot be COPYed)."""
    db = ctx.db
    if _fresh(db, f):
        counts = await f.load_fresh(db, staged, ctx.now, ctx.actor)
        if counts is not None:
            watch.lap(f"{f.name}: copy into {', '.join(f.tables)} (ends during the next step)")
            return counts
    if copy_only:
        return None
    await db.stage(f.stage_table, staged, f.staging)
    watch.lap(f"{f.name}: stage")
    counts = await f.upsert(db, ctx.now, ctx.actor)
    watch.lap(f"{f.name}: write {', '.join(f.tables)}")
    return counts


async def _prepare_and_write(
    ctx: ImportContext,
    ordered: list[BookFile],
    loaded: dict[str, LoadedFile],
    checked: dict[str, pl.DataFrame],
    cell_errors: dict[str, pl.DataFrame],
    errors: list[pl.DataFrame],
    watch: Stopwatch,
) -> dict[str, dict[str, int]]:
    """Check each file's references and cross-file rules, and write it; every error lands in `errors`.

    While every file so far was clean and COPYed into tables that were empty, a file is written as soon as it
    is prepared, its COPY running on while the next file is prepared; after that (or on SQLite, or once an
    error is found) the rest is written only when every file has been checked and none has errors. The
    import's transaction makes an early write harmless when a later file refuses the book."""
    db = ctx.db
    rebuild = await db.defer_secondary_structures([t for f in ordered if f.name in checked for t in f.tables])
    watch.lap("defer indexes")
    # Ids for the rows to COPY, taken before the first COPY starts: no file then waits for the previous
    # file's COPY to end before it can number its rows and write its CSV.
    for f in ordered:
        if f.name in checked and _fresh(db, f):
            for table in f.tables:
                await db.reserve_block(table, checked[f.name].height)
    early = not any(e.height for e in errors)
    staged: dict[str, pl.DataFrame] = {}
    counts: dict[str, dict[str, int]] = {}
    for f in ordered:
        if f.name in checked:
            staged[f.name], found = await _prepare(ctx, f, loaded[f.name], checked[f.name], cell_errors[f.name])
            errors.extend(found)
            watch.lap(f"{f.name}: references and cross-file checks")
            early = early and not any(e.height for e in found)
            if early:
                written = await _write_file(ctx, f, staged[f.name], watch, copy_only=True)
                early = written is not None
                if written is not None:
                    counts[f.name] = written
    if any(e.height for e in errors):
        return counts
    for f in ordered:
        if f.name in staged and f.name not in counts:
            written = await _write_file(ctx, f, staged[f.name], watch)
            counts[f.name] = written if written is not None else {}
    await db.drain()
    watch.lap("end of the last COPY")
    await db.drop_staging()
    watch.lap("drop staging")
    for label, statement in rebuild:
        await db.execute(statement)
        watch.lap(f"rebuild {label}")
    return counts


async def import_book(
    directory: Path, files: Sequence[BookFile], actor: str, limits: ReadLimits | None = None
) -> ImportResult:
    """Validate and write every book file found in `directory`, all or nothing. `limits` bound each file
    (uploads; UploadTooLargeError)."""
    watch = Stopwatch()
    ordered = order_files(files)
    # Reading and checking are seconds of Polars work on a large book: in a worker thread, so the event
    # loop keeps serving other requests meanwhile.
    loaded, errors = await anyio.to_thread.run_sync(load_directory, directory, ordered, limits)
    watch.lap("read files")
    if not loaded and not any(e.height for e in errors):
        raise ImportRefused(
            pl.DataFrame(
                [(str(directory), 0, "", "no book files found (parties.csv, loans.parquet, ...)")],
                schema=ERRORS_SCHEMA,
                orient="row",
            )
        )
    # Content checks need no database: run them all first, so a bad book is refused fast.
    checked, cell_errors = await anyio.to_thread.run_sync(_check_cells, ordered, loaded)
    errors.extend(cell_errors.values())
    watch.lap("check cells")
    async with write_transaction():
        await no_statement_timeout()
        ctx = ImportContext(db=BulkDb.of_current_transaction(), actor=actor, now=clock.now())
        ctx.frames.update(checked)
        ctx.loaded.update({name: f.frame for name, f in loaded.items()})
        # A reference to a row that is in the import but has its own errors is not a second error.
        ctx.keys.update({f.name: loaded[f.name].frame[f.sort_by[0]] for f in ordered if f.name in loaded})
        try:
            counts = await _prepare_and_write(ctx, ordered, loaded, checked, cell_errors, errors, watch)
        except BaseException:
            await ctx.db.abandon()
            raise
        all_errors = _sort_errors(errors, [f.name for f in ordered])
        if all_errors.height:
            await ctx.db.abandon()
            await ctx.db.drop_staging()
            raise ImportRefused(all_errors)
        result: dict[str, dict[str, Any]] = {
            f.name: {"rows": loaded[f.name].frame.height, **counts[f.name], "sha256": loaded[f.name].sha256}
            for f in ordered
            if f.name in counts
        }
        checksum = hashlib.sha256("".join(r["sha256"] for r in result.values()).encode()).hexdigest()
        await audit.record(actor, "book", checksum[:16], "import", after={"files": result})
    watch.lap("commit")
    await _analyze([t for f in ordered if f.name in loaded for t in f.tables])
    watch.lap("analyze")
    return ImportResult(result, watch.steps)


async def _analyze(tables: Sequence[str]) -> None:
    """Fresh planner statistics for the tables a bulk import loaded, after its commit (PostgreSQL only):
    autovacuum would get there in its own time, and until then queries plan for the tables as they were.
    SQLite's planner needs no statistics to choose the indexes here. Two connections, each with half the
    tables: one ANALYZE keeps one core busy, and the rows are committed, so both see them."""
    if not is_postgres():
        return
    names = list(dict.fromkeys(tables))  # names from the book files' own declarations, never from input

    async def analyze(share: list[str]) -> None:
        async with write_transaction():
            await no_statement_timeout()
            for table in share:
                await AuditEvent.raw(f"ANALYZE {table}")

    async with anyio.create_task_group() as group:
        for share in (names[0::2], names[1::2]):
            group.start_soon(analyze, share)


async def export_book(directory: Path, files: Sequence[BookFile], fmt: str) -> dict[str, int]:
    """Write every book file, rows sorted by ref, in one consistent snapshot."""
    counts: dict[str, int] = {}
    async with write_transaction():
        await no_statement_timeout()
        db = BulkDb.of_current_transaction()
        for f in order_files(files):
            frame = await f.export(db)
            write_book_file(frame.sort(list(f.sort_by)), directory, f.name, fmt)
            counts[f.name] = frame.height
    return counts
