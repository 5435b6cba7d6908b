"""The step protocol: an analysis with declared inputs, outputs and parameters.

A step is a class. Its constructor only stores parameters, validated in one place
(:meth:`Step.__init__`) with one message style. :meth:`Step.compute` reads the case
(read-only) and returns its result tables; the runner (:mod:`forumscope.pipeline.runner`)
adds the run id, writes them into the case and records the run in ``runs``.

Example (a tiny step)::

    class PostCounts(Step):
        name = "post_counts"
        description = "Posts per board."
        inputs = ("posts",)
        outputs = {"post_counts_boards": "Posts per board: forum_id, board_id, posts."}
        params = (Param("min_posts", int, 0, "Leave out boards with fewer posts."),)

        def compute(self, ctx):
            t = ctx.sql("SELECT forum_id, board_id, count(*) AS posts FROM posts GROUP BY ALL "
                        "HAVING count(*) >= ?", [self.min_posts])
            return {"post_counts_boards": t}
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Mapping

import pyarrow as pa

from forumscope.errors import ConfigError


@dataclass(frozen=True)
class Param:
    name: str
    type: type
    default: Any
    doc: str
    check: Callable[[Any], bool] | None = None  # extra validation (e.g. a range)
    check_doc: str = ""  # what the check requires, for the error message


class StepContext:
    """What a step sees: the case's connection (read it, do not write model tables), settings,
    the forum to analyse (None = all), and a progress hook."""

    def __init__(self, case: Any, forum_id: str | None = None,
                 progress: Callable[[str, float], None] | None = None):
        self.case = case
        self.con = case.con
        self.settings = case.settings
        self.forum_id = forum_id
        self._progress = progress

    def sql(self, query: str, params: list[Any] | None = None) -> pa.Table:
        return self.case.sql(query, params)

    def df(self, query: str, params: list[Any] | None = None):
        return self.con.execute(query, params or []).df()

    def progress(self, message: str, fraction: float = 0.0) -> None:
        if self._progress:
            self._progress(message, fraction)


class Step(ABC):
    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    inputs: ClassVar[tuple[str, ...]] = ()
    outputs: ClassVar[dict[str, str]] = {}  # result table -> one-line description
    params: ClassVar[tuple[Param, ...]] = ()

    def __init__(self, **kwargs: Any):
        known = {p.name: p for p in self.params}
        for key in kwargs:
            if key not in known:
                raise ConfigError(f"step {self.name}: unknown parameter {key!r}; known: "
                                  f"{', '.join(known) or 'none'}")
        for p in self.params:
            value = kwargs.get(p.name, p.default)
            if value is not None and not isinstance(value, p.type):
                if p.type is float and isinstance(value, int) and not isinstance(value, bool):
                    value = float(value)
                else:
                    raise ConfigError(f"step {self.name}: parameter {p.name} must be {p.type.__name__}, "
                                      f"got {value!r}")
            if value is not None and p.check is not None and not p.check(value):
                raise ConfigError(f"step {self.name}: parameter {p.name}={value!r} is invalid: {p.check_doc}")
            setattr(self, p.name, value)

    def get_params(self) -> dict[str, Any]:
        return {p.name: getattr(self, p.name) for p in self.params}

    @abstractmethod
    def compute(self, ctx: StepContext) -> Mapping[str, Any]:
        """Return result tables by name (pyarrow Tables or pandas DataFrames), each one of ``outputs``."""


def parse_param(step_cls: type[Step], key: str, text: str) -> Any:
    """Turn a command-line ``key=value`` into the parameter's type."""
    for p in step_cls.params:
        if p.name == key:
            if p.type is bool:
                if text.lower() in ("true", "1", "yes"):
                    return True
                if text.lower() in ("false", "0", "no"):
                    return False
                raise ConfigError(f"step {step_cls.name}: parameter {key} must be true or false, got {text!r}")
            if p.type in (int, float):
                try:
                    return p.type(text)
                except ValueError:
                    raise ConfigError(f"step {step_cls.name}: parameter {key} must be {p.type.__name__}, "
                                      f"got {text!r}") from None
            if p.type is str:
                return text
            if p.type is tuple:
                return tuple(x for x in text.split(",") if x)
            raise ConfigError(f"step {step_cls.name}: parameter {key} cannot be set from the command line")
    raise ConfigError(f"step {step_cls.name}: unknown parameter {key!r}")
