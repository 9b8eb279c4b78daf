from __future__ import annotations

from collections.abc import Iterator

import pytest
import strawberry
from strawberry.extensions import SchemaExtension

from schema.extensions.sequenced import Sequenced, sequenced

calls: list[str] = []


def recorder(name: str) -> type[SchemaExtension]:
    class Recorder(SchemaExtension):
        def on_operation(self) -> Iterator[None]:
            calls.append(f"{name} before {self.execution_context.query is not None}")
            try:
                yield
            finally:
                calls.append(f"{name} after")

    return Recorder


@strawberry.type
class Query:
    @strawberry.field
    def hello(self) -> str:
        return "hi"

    @strawberry.field
    def boom(self) -> str:
        raise ValueError("boom")


@pytest.fixture(autouse=True)
def clear() -> None:
    calls.clear()


def test_parts_run_in_order_and_unwind_in_reverse_with_the_execution_context() -> None:
    schema = strawberry.Schema(query=Query, extensions=[sequenced([recorder("a"), recorder("b")])])
    result = schema.execute_sync("{ hello }")
    assert result.data == {"hello": "hi"}
    assert calls == ["a before True", "b before True", "b after", "a after"]


def test_a_part_sees_the_result_and_may_change_it() -> None:
    class Rewrite(SchemaExtension):
        def on_operation(self) -> Iterator[None]:
            yield
            result = self.execution_context.result
            assert result is not None
            result.data = {"hello": "rewritten"}

    schema = strawberry.Schema(query=Query, extensions=[sequenced([recorder("a"), Rewrite])])
    assert schema.execute_sync("{ hello }").data == {"hello": "rewritten"}
    assert calls == ["a before True", "a after"]


def test_an_exception_is_thrown_into_each_part_in_reverse() -> None:
    seen: list[str] = []

    def part(name: str) -> SchemaExtension:
        class Part(SchemaExtension):
            def on_operation(self) -> Iterator[None]:
                try:
                    yield
                except KeyError:
                    seen.append(name)
                    raise

        return Part()

    extension = Sequenced([lambda: part("outer"), lambda: part("inner")])
    hook = extension.on_operation()
    next(hook)
    with pytest.raises(KeyError):
        hook.throw(KeyError("x"))
    assert seen == ["inner", "outer"]


def test_a_part_that_handles_the_exception_stops_it() -> None:
    class Swallow(SchemaExtension):
        def on_operation(self) -> Iterator[None]:
            try:
                yield
            except KeyError:
                calls.append("swallowed")

    extension = Sequenced([recorder("outer"), Swallow])
    extension.execution_context = _Ctx()  # type: ignore[assignment]
    hook = extension.on_operation()
    next(hook)
    with pytest.raises(StopIteration):
        hook.throw(KeyError("x"))
    assert calls[-2:] == ["swallowed", "outer after"]


class _Ctx:
    query = "{ hello }"
