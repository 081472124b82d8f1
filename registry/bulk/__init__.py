"""Bulk import and export of a whole loan book (DESIGN section 8).

Each domain package describes its own files as `BookFile`s; the pipeline takes the composed list,
validates every file with vectorised Polars checks before anything is written, then writes all of
them in one transaction through staging tables and set-based upserts."""
