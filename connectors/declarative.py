"""The connector that runs a manifest: calls the agency's resources, walks their pages, and maps the
answers into the section through ``connectors.mapping``.

Resources that need only the card number go out together. A resource whose path names a field of
another (``/cards/{card.cardNumber}/trips``) needs that answer first; once the field's value is known
from an earlier request (``connectors.keymap``), it goes out together with the others and its answer
is kept only if the value still holds, so a stale entry costs a round trip and never shows another
person's data.

A selection needs only some resources: ``resources_for`` names them from the mapping (which resource
feeds which field), ``fetch_resources`` calls only those (reusing answers the caller already holds, such
as the cache's), and ``assemble`` builds the section from whatever answers it is given.
"""

from __future__ import annotations

import asyncio
import functools
import math
import re
from collections.abc import Awaitable, Collection, Mapping
from typing import Any, TypeVar
from urllib.parse import quote

from connectors.base import MAX_ITEMS, Connector, gather_or_cancel
from connectors.domain import Section, SectionMeta
from connectors.errors import AgencyAuthFailed, AgencyBadResponse, AgencyError, AgencyUnavailable
from connectors.keymap import KeyMap
from connectors.manifest import CursorPagination, Manifest, Match, OffsetPagination, PagePagination, Resource
from connectors.mapping import compile_section, path_reader
from connectors.patterns import linear_pattern
from connectors.runtime import AgencyClient, AgencyResponse

T = TypeVar("T")
PAGE_CONCURRENCY = 4  # pages fetched at once when the first page tells how many there are
Refs = tuple[tuple[str, str], ...]  # (placeholder, value), sorted


class _NotFound(Exception):
    """The agency has no account for this citizen."""


async def _settled(call: Awaitable[T]) -> T | AgencyError | _NotFound:
    try:
        return await call
    except (AgencyError, _NotFound) as exc:
        return exc


class ManifestConnector(Connector):
    def __init__(self, client: AgencyClient, manifest: Manifest) -> None:
        super().__init__(client)
        self.manifest = manifest
        self.agency = manifest.agency
        self.name = manifest.name
        self.section = manifest.section
        self.health_path = manifest.health_path
        self.cache_ttl_seconds = manifest.cache_ttl_seconds
        self.max_items = MAX_ITEMS
        self._compiled = compile_section(manifest)
        # RE2: the agency's pattern runs in time linear in the card number (connectors/patterns.py).
        self._pattern = linear_pattern(manifest.card_number_pattern) if manifest.card_number_pattern else None
        resources = manifest.resources
        self._independent = [n for n, r in resources.items() if set(r.placeholders()) <= {"card_number"}]
        self._dependent = [n for n in resources if n not in self._independent]
        self._refs = sorted({p for n in self._dependent for p in resources[n].placeholders() if p != "card_number"})
        self._ref_readers = [(p, p.partition(".")[0], path_reader(p.partition(".")[2])) for p in self._refs]
        self.keys: KeyMap[Refs] = KeyMap()
        self.resource_names: tuple[str, ...] = tuple(resources)
        self.keyed = frozenset(self._dependent)  # resources whose path names another's field
        self.parents = frozenset(p.partition(".")[0] for p in self._refs)
        self._singles = frozenset(n for n, r in resources.items() if r.items is None)
        self._feeds = _feeds(manifest)
        self._probe = next((n for n in self._independent if n in self._singles), self._independent[0])
        self._plans: dict[frozenset[str], tuple[str, ...]] = {}
        assert manifest.responses is not None  # the manifest's checks demand it with a mapping
        self._responses = responses = manifest.responses
        self._data = path_reader(responses.data) if responses.data else None
        self._error_code = path_reader(responses.error_code.field) if responses.error_code else None

    async def fetch(self, card_number: str) -> Section | None:
        """The whole section (every resource)."""
        fetched = await self.fetch_resources(card_number, self.resource_names, {})
        return None if fetched is None else self.assemble(fetched, self.meta())

    # --- resources, for a selection ------------------------------------------------------------------

    def resources_for(self, fields: Collection[str] | None) -> tuple[str, ...]:
        """The resources the section's ``fields`` (domain field names; None: all) are built from, with the
        ones their paths name. Fields the mapping does not know (``meta``) need none; with none of them
        asked, one resource still tells whether the citizen has an account here."""
        if fields is None:
            return self.resource_names
        asked = fields if isinstance(fields, frozenset) else frozenset(fields)
        plan = self._plans.get(asked)
        if plan is None:
            wanted: set[str] = set()
            for name in asked:
                wanted |= self._feeds.get(name, frozenset())
            if not wanted:
                wanted = {self._probe}
            if wanted & self.keyed:
                wanted |= self.parents
            plan = tuple(n for n in self.resource_names if n in wanted)
            if len(self._plans) < 1024:  # selections are bounded by the schema; this bound is a guard
                self._plans[asked] = plan
        return plan

    def ref_values(self, resources: Mapping[str, Any]) -> Refs | None:
        """The values the keyed resources' paths name, read from their parents' answers (None: a parent
        is missing). Raises ``AgencyBadResponse`` when a value cannot name a resource."""
        if not self.parents <= resources.keys():
            return None
        values = []
        for placeholder, head, read in self._ref_readers:
            value = self.mapped(placeholder, functools.partial(read, resources[head]))
            if isinstance(value, bool) or not isinstance(value, str | int) or value == "":
                raise AgencyBadResponse(self.agency, f"unexpected {placeholder}: {value!r} cannot name a resource")
            values.append((placeholder, str(value)))
        return tuple(values)

    async def fetch_resources(
        self, card_number: str, wanted: Collection[str], known: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        """The agency's answers for the ``wanted`` resources that are not ``known`` (answers kept from
        earlier, e.g. by the cache), plus the parents a keyed one needed and ``known`` lacked. Single
        resources are their document, list resources their items. None: the citizen has no account here."""
        if self._pattern is not None and not self._pattern.fullmatch(card_number):
            return None  # not a number this agency could know; never sent
        todo = {n for n in wanted if n not in known}
        dependent = [n for n in self._dependent if n in todo]
        if dependent:
            todo |= {p for p in self.parents if p not in known}
        independent = [n for n in self._independent if n in todo]
        remembered = (self.ref_values(known) or self.keys.get(card_number)) if dependent else None
        try:
            first = [self._resource(n, card_number, {}) for n in independent]
            early = (
                [_settled(self._resource(n, card_number, dict(remembered))) for n in dependent] if remembered else []
            )
            results = await gather_or_cancel(*first, *early)
        except _NotFound:
            self.keys.forget(card_number)
            return None
        fetched: dict[str, Any] = dict(zip(independent, results, strict=False))
        if dependent:
            refs = self.ref_values({**known, **fetched})
            assert refs is not None  # every parent is known or was just fetched
            if refs == remembered:
                late: list[Any] = list(results[len(first) :])
            else:  # first visit, or the key changed (a replaced card): anything fetched early is not theirs
                late = list(
                    await gather_or_cancel(*(_settled(self._resource(n, card_number, dict(refs))) for n in dependent))
                )
            if self.keys.get(card_number) != refs:
                self.keys.put(card_number, refs)
            for name, outcome in zip(dependent, late, strict=True):
                if isinstance(outcome, _NotFound):
                    self.keys.forget(card_number)
                    return None
                if isinstance(outcome, AgencyError):
                    raise outcome
                fetched[name] = outcome
        return fetched

    def assemble(self, resources: Mapping[str, Any], meta: SectionMeta) -> Section:
        """The section from resources' answers. Built from some of them, it is partial: the fields of
        the others are None (lists empty), and a selection that asked for them was given them."""
        singles = {n: v for n, v in resources.items() if n in self._singles}
        lists = {n: v for n, v in resources.items() if n not in self._singles}
        compiled = self._compiled
        if len(singles) + len(lists) >= len(self.resource_names):
            section: Section = self.mapped(self.section, lambda: compiled.build(singles, lists, meta))
            return section

        def partial() -> Section:
            values: dict[str, Any] = {}
            for name, read in compiled.fields.items():
                values[name] = read(singles) if self._feeds[name] <= singles.keys() else None
            for name, cl in compiled.lists.items():
                items = [cl.build_item(raw) for raw in lists.get(cl.resource, ())]
                if cl.sort_key is not None:
                    items.sort(key=cl.sort_key, reverse=cl.descending)
                values[name] = tuple(items)
            built: Section = compiled.cls(**values, meta=meta)
            return built

        return self.mapped(self.section, partial)

    # --- one resource ------------------------------------------------------------------------------

    async def _resource(self, name: str, card_number: str, refs: dict[str, str]) -> Any:
        resource = self.manifest.resources[name]
        values = {"card_number": card_number, **refs}
        path = re.sub(r"\{([^{}]*)\}", lambda m: quote(values[m.group(1)], safe=""), resource.path)
        if resource.items is None:
            data = await self._get(path, {}, name)
            if resource.identity is not None:
                found = self.mapped(name, lambda: path_reader(resource.identity or "")(data))
                # A proxy or cache mixing citizens up would show one citizen's records to another.
                if found != card_number:
                    raise AgencyBadResponse(self.agency, f"unexpected {name}: the answer is for another citizen")
            return data
        pagination = resource.pagination
        if pagination is None:
            return self._items(resource, await self._get(path, {}, name), name)[: self.max_items]
        if isinstance(pagination, PagePagination):
            return await self._pages(resource, pagination, path, name)
        if isinstance(pagination, OffsetPagination):
            return await self._offsets(resource, pagination, path, name)
        return await self._cursors(resource, pagination, path, name)

    async def _get(self, path: str, params: dict[str, str | int], what: str) -> Any:
        """The payload of a successful answer; _NotFound for "no such citizen"; typed errors for the rest."""
        response = await self.client.get(path, params)
        responses = self._responses
        if _matches(responses.not_found, response):
            raise _NotFound()
        if response.status != 200 or (responses.success is not None and not _matches(responses.success, response)):
            raise self._failure(response, what)
        if self._data is None:
            return response.body
        reader = self._data
        return self.mapped(what, lambda: reader(response.body))

    def _failure(self, response: AgencyResponse, what: str) -> AgencyError:
        spec = self._responses.error_code
        if spec is not None and self._error_code is not None:
            try:
                code = self._error_code(response.body)
            except ValueError:
                code = None
            if isinstance(code, int) and not isinstance(code, bool):
                status = code // spec.status_divisor
                message = f"HTTP {response.status}, {spec.field} {code} (stands for HTTP {status})"
                if status >= 500:
                    return AgencyUnavailable(self.agency, message)
                if status == 401:
                    return AgencyAuthFailed(self.agency, message)
                return AgencyBadResponse(self.agency, message)
        return self.unexpected(response, what)

    def _items(self, resource: Resource, data: object, what: str) -> list[object]:
        read = path_reader(resource.items or "")

        def items() -> list[object]:
            value = read(data)
            if not isinstance(value, list):
                raise ValueError(f"{resource.items} should be a list, got {type(value).__name__}")
            return value

        return self.mapped(what, items)

    def _count(self, data: object, path: str, what: str) -> int:
        def count() -> int:
            value = path_reader(path)(data)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{path} should be a count, got {value!r}")
            return value

        return self.mapped(what, count)

    async def _pages(self, resource: Resource, p: PagePagination, path: str, what: str) -> list[object]:
        def params(page: int) -> dict[str, str | int]:
            return {p.page_param: page, p.size_param: p.page_size}

        first = await self._get(path, params(p.first_page), what)
        items = self._page(resource, first, p.page_size, what)
        if p.total_pages is not None:
            pages = min(self._count(first, p.total_pages, what), math.ceil(self.max_items / p.page_size))
        else:
            pages = math.ceil(min(self._count(first, p.total_items or "", what), self.max_items) / p.page_size)
        del first
        gate = asyncio.Semaphore(PAGE_CONCURRENCY)

        # Each page keeps only its items, checked against the page size, as it arrives: the walk holds
        # fewer than MAX_ITEMS + page_size items and PAGE_CONCURRENCY answers, never every page's body.
        async def page(number: int) -> list[object]:
            async with gate:
                return self._page(resource, await self._get(path, params(number), what), p.page_size, what)

        for more in await gather_or_cancel(*(page(p.first_page + i) for i in range(1, pages))):
            items.extend(more)
        return items[: self.max_items]

    def _page(self, resource: Resource, data: object, limit: int, what: str) -> list[object]:
        """The items of one page; an agency answering more than it was asked for is refused."""
        items = self._items(resource, data, what)
        if len(items) > limit:
            raise AgencyBadResponse(self.agency, f"{what}: {len(items)} items for a page of {limit}")
        return items[: self.max_items]

    async def _offsets(self, resource: Resource, p: OffsetPagination, path: str, what: str) -> list[object]:
        items: list[object] = []
        while len(items) < self.max_items:
            limit = min(p.page_size, self.max_items - len(items))
            data = await self._get(path, {p.offset_param: len(items), p.limit_param: limit}, what)
            page = self._items(resource, data, what)
            if len(page) > limit:
                raise AgencyBadResponse(self.agency, f"{what}: {len(page)} items for a limit of {limit}")
            items.extend(page)
            # An empty page ends the walk even if the total promised more, so a miscount can't loop forever.
            if not page or len(items) >= self._count(data, p.total, what):
                break
        return items

    async def _cursors(self, resource: Resource, p: CursorPagination, path: str, what: str) -> list[object]:
        items: list[object] = []
        seen: set[str] = set()
        cursor: str | None = None
        read_next = path_reader(p.next_cursor, nullable=True)
        while len(items) < self.max_items:
            limit = min(p.page_size, self.max_items - len(items))
            params: dict[str, str | int] = {p.limit_param: limit}
            if cursor is not None:
                params[p.cursor_param] = cursor
            data = await self._get(path, params, what)
            page = self._items(resource, data, what)
            if len(page) > limit:
                raise AgencyBadResponse(self.agency, f"{what}: {len(page)} items for a limit of {limit}")
            items.extend(page)
            following = self.mapped(what, functools.partial(read_next, data))
            if following is not None and not isinstance(following, str):
                raise AgencyBadResponse(self.agency, f"unexpected {what}: {p.next_cursor} is {following!r}")
            if not following or not page:  # an empty page with a cursor would loop forever
                break
            if following in seen:
                raise AgencyBadResponse(self.agency, f"unexpected {what}: pages loop ({p.next_cursor} repeated)")
            seen.add(following)
            cursor = following
        return items[: self.max_items]


def _matches(match: Match, response: AgencyResponse) -> bool:
    if match.status is not None and response.status != match.status:
        return False
    if match.field is None:
        return True
    try:
        value = path_reader(match.field)(response.body)
    except ValueError:
        return False
    # Strict: 0 is not false and "1" is not 1.
    return type(value) is type(match.equals) and value == match.equals


def _feeds(manifest: Manifest) -> dict[str, frozenset[str]]:
    """Section field -> the resources it is read from (the head of each path in the mapping)."""
    assert manifest.mapping is not None
    feeds: dict[str, frozenset[str]] = {}
    for name, fm in manifest.mapping.fields.items():
        paths = fm.sum if fm.sum is not None else (fm.path or "",)
        feeds[name] = frozenset(p.partition(".")[0] for p in paths)
    for name, lm in manifest.mapping.lists.items():
        feeds[name] = frozenset({lm.from_})
    return feeds
