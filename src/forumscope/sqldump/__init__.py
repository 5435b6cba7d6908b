"""SQL dumps of forum databases: a streaming parser (mysqldump and pg_dump plain output, plain, gzip or
zstd), staging into a scratch DuckDB, and writers that produce such dumps.

Nothing read from a dump is ever executed. See :mod:`forumscope.sqldump.parser`,
:mod:`forumscope.sqldump.staging` and :mod:`forumscope.sqldump.writer`.
"""
