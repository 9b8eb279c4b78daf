"""The response cache for registered documents: a whole answer kept, and checked again on every hit.

Only a registered document (sent by ``documentId``) that is a query and reads nothing but a citizen's
profile sections and identity (``me`` or ``citizen``: ``cardNumber``, ``name``, ``card`` and the five
agency sections) is kept, and only an answer without errors. The key is the document, the operation,
the variables, the client, the citizen and the token's scopes. An entry holds:

- the revocation epoch it was made under (auth/epoch.py): any token, consent, client, citizen or card
  change anywhere drops it, and a request without a fence (the epoch unreadable) never uses it;
- the section cache's generations of the sections it read (cache/sections.py): a connector change or a
  purge, on any instance sharing the cache, drops it;
- an expiry, the shortest ``cache_ttl_seconds`` of the sections it read;
- the access decisions the full run made.

A hit is not a shortcut past the hub's rules: the token was authenticated as for any request, each
decision is checked again against the consent as it stands now (a scope withdrawn or paused is a miss,
and the full run refuses it), and the decisions are written to the access log before the answer
leaves, withheld (AUDIT_UNAVAILABLE) if they cannot be.
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
)
from strawberry.types import ExecutionResult

from auth.audit import Decision, Outcome
from auth.consent import ConsentStatus
from cache.sections import ALL
from cache.source import SectionSource
from schema.context import HubContext
from schema.extensions.audit_trail import LOOKUP, record
from schema.permissions import RequireScope

ROOTS = frozenset({"me", "citizen"})
PROFILE = frozenset({"cardNumber", "name", "card", "socialSecurity", "transit", "health", "housingFund", "library",
                     "__typename"})  # fmt: skip
MAX_ENTRIES = 10_000
UNSECTIONED_TTL = 60.0  # an answer reading no agency section (identity only) is kept at most this long


@dataclass(frozen=True, slots=True)
class Entry:
    result: ExecutionResult
    decisions: tuple[Decision, ...]
    epoch: int
    sections: tuple[str, ...]
    generations: tuple[int, ...]
    expires: float


class ResponseCache:
    def __init__(self, source: SectionSource, max_entries: int = MAX_ENTRIES) -> None:
        self.source = source
        self.max_entries = max_entries
        self.hits = 0
        self._entries: OrderedDict[Hashable, Entry] = OrderedDict()
        self._cacheable: dict[int, bool] = {}

    def key(self, context: HubContext, document: DocumentNode | None, text: str, operation: str | None,
            variables: dict[str, Any] | None) -> Hashable | None:  # fmt: skip
        """The entry's key, or None when this request's answer is never kept."""
        principal = context.principal
        if principal is None or document is None or context.fence.epoch is None or self.source.cache is None:
            return None
        if not self._kept(document, operation):
            return None
        shape = json.dumps(variables or {}, sort_keys=True, default=str)
        return (text, operation, shape, principal.client_id, principal.citizen, principal.scopes)

    async def serve(self, key: Hashable, context: HubContext) -> ExecutionResult | None:
        """The kept answer, once the consent still allows every decision and they are recorded."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.epoch != context.fence.epoch or entry.expires <= time.monotonic():
            del self._entries[key]
            return None
        if await self._generations(entry.sections) != entry.generations:
            self._entries.pop(key, None)
            return None
        if not await self._still_allowed(entry.decisions, context):
            return None  # the full run refuses it, and records the refusal
        context.decisions.extend(entry.decisions)
        refusal = await record(context)
        if refusal is not None:
            return ExecutionResult(data=None, errors=[refusal])
        self.hits += 1
        self._entries.move_to_end(key)
        return entry.result

    async def keep(self, key: Hashable, context: HubContext, result: ExecutionResult) -> None:
        epoch = context.fence.epoch
        if result.errors or result.data is None or epoch is None:
            return
        allowed = [d for d in context.decisions if d.outcome == Outcome.ALLOWED]
        if len(allowed) != len(context.decisions):
            return
        connectors = self.source.connectors
        sections = tuple(sorted({d.section for d in allowed if d.section in connectors}))
        ttls = [connectors[s].cache_ttl_seconds for s in sections]
        if any(t <= 0 for t in ttls):
            return  # a section that is never cached is never kept in an answer either
        generations = await self._generations(sections)
        expires = time.monotonic() + (min(ttls) if ttls else UNSECTIONED_TTL)
        if context.fence.epoch != epoch:
            return
        self._entries[key] = Entry(result, tuple(context.decisions), epoch, sections, generations, expires)
        if len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    async def _generations(self, sections: Sequence[str]) -> tuple[int, ...]:
        cache = self.source.cache
        if cache is None:
            return ()
        try:
            return tuple(await cache.backend.generations([ALL, *sections]))
        except Exception:
            return (-1,)

    async def _still_allowed(self, decisions: Sequence[Decision], context: HubContext) -> bool:
        principal = context.principal
        assert principal is not None
        for decision in decisions:
            standing = await context.consent_for(decision.citizen, principal.client_id)
            if decision.section == LOOKUP:
                if standing.status is not ConsentStatus.ACTIVE:
                    return False
            elif RequireScope(decision.section)._refusal(principal, standing) is not None:
                return False
        return True

    def _kept(self, document: DocumentNode, operation: str | None) -> bool:
        known = self._cacheable.get(id(document))
        if known is None:
            known = self._cacheable[id(document)] = _profile_query(document, operation)
        return known


def _profile_query(document: DocumentNode, operation: str | None) -> bool:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    chosen = [o for o in operations if operation is None or (o.name is not None and o.name.value == operation)]
    if len(chosen) != 1 or chosen[0].operation is not OperationType.QUERY:
        return False
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    roots = _fields(chosen[0].selection_set, fragments)
    if not roots or any(f.name.value not in ROOTS | {"__typename"} for f in roots):
        return False
    for root in roots:
        if root.selection_set is None:
            continue
        parts = _fields(root.selection_set, fragments)
        if parts is None or any(f.name.value not in PROFILE for f in parts):
            return False
    return True


def _fields(selection_set: SelectionSetNode, fragments: dict[str, FragmentDefinitionNode]) -> list[FieldNode] | None:
    """The fields selected at this level, through fragments; None when a directive decides (not kept)."""
    found: list[FieldNode] = []
    for node in selection_set.selections:
        if node.directives:
            return None
        if isinstance(node, FieldNode):
            found.append(node)
            continue
        if isinstance(node, InlineFragmentNode):
            inner = _fields(node.selection_set, fragments)
        elif isinstance(node, FragmentSpreadNode) and node.name.value in fragments:
            inner = _fields(fragments[node.name.value].selection_set, fragments)
        else:
            return None
        if inner is None:
            return None
        found += inner
    return found
