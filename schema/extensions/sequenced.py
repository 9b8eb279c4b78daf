"""Several small synchronous ``on_operation`` hooks run as one: one context manager per request.

strawberry's extension runner builds a context manager (``contextlib.contextmanager`` over a bound
method, with its ``functools.wraps``) per hook, per extension, per request; for a small query that
was 7% of the time (docs/performance.md). The hooks here stay in their own modules and keep their
order and meaning: each runs up to its ``yield`` in turn, the operation runs, and then each resumes
in reverse order, as nested context managers would. An exception in the operation is thrown into
each in reverse, so a ``try``/``finally`` in a hook still runs.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from typing import Any

from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext

Part = Callable[[], SchemaExtension]


class Sequenced(SchemaExtension):
    def __init__(self, parts: Sequence[Part], *, execution_context: ExecutionContext | None = None) -> None:
        self.parts = [part() for part in parts]
        if execution_context is not None:
            self.execution_context = execution_context

    def __setattr__(self, name: str, value: Any) -> None:
        # strawberry sets execution_context on each extension it knows: the parts need it as well.
        super().__setattr__(name, value)
        if name == "execution_context":
            for part in self.parts:
                part.execution_context = value

    def on_operation(self) -> Generator[None, None, None]:
        running: list[Generator[None, None, None]] = []
        try:
            for part in self.parts:
                hook: Generator[None, None, None] = part.on_operation()  # type: ignore[assignment]
                next(hook)
                running.append(hook)
            yield
        except BaseException as exc:
            error: BaseException | None = exc
            for hook in reversed(running):
                try:
                    if error is None:
                        _finish(hook)
                    else:
                        hook.throw(error)
                        raise RuntimeError("an on_operation hook went on after an exception")  # pragma: no cover
                except StopIteration:
                    error = None  # the hook handled it
                except BaseException as raised:
                    error = raised
            if error is exc:
                raise
            if error is not None:
                raise error from exc
            return
        for hook in reversed(running):
            _finish(hook)


def _finish(hook: Generator[None, None, None]) -> None:
    try:
        next(hook)
    except StopIteration:
        return
    raise RuntimeError("an on_operation hook yielded twice")


def sequenced(parts: Sequence[Part]) -> Callable[[], Sequenced]:
    def build() -> Sequenced:
        return Sequenced(parts)

    return build
