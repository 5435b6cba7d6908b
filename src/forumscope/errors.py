"""One exception hierarchy. Third-party errors are converted at the boundary.

Every error carries the context a person needs to act: the file and the
position (line, byte offset or record) where it applies, and the table.
"""

from __future__ import annotations


class ForumscopeError(Exception):
    """Root of every error forumscope raises on purpose."""

    exit_code = 1

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None,
                 offset: int | None = None, table: str | None = None):
        self.message = message
        self.path = path
        self.line = line
        self.offset = offset
        self.table = table
        super().__init__(self.one_line())

    def one_line(self) -> str:
        where = []
        if self.path:
            where.append(str(self.path))
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.offset is not None:
            where.append(f"byte {self.offset}")
        if self.table:
            where.append(f"table {self.table}")
        return f"{': '.join([', '.join(where)]) + ': ' if where else ''}{self.message}"


class UsageError(ForumscopeError):
    """The person asked for something that cannot be done as asked."""

    exit_code = 2


class InputError(ForumscopeError):
    """An input is unusable as a whole (unknown format, refused archive, hostile file)."""

    exit_code = 3


class CaseError(ForumscopeError):
    """The case folder is missing, damaged, or not a case."""

    exit_code = 4


class ConfigError(ForumscopeError):
    """A setting or parameter is invalid."""

    exit_code = 2
