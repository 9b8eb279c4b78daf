"""The stored Merkle tree: every complete subtree's hash, so proofs cost a handful of rows.

Node (level L, index i) is MTH of leaves ``[i * 2**L, (i + 1) * 2**L)`` (RFC 9162 2.1.1); level 0
holds the leaf hashes. Only the sequencer writes here, in the transaction that moves the tree forward
and signs its checkpoint. Every range a proof asks for is a fold of at most log2(n) stored nodes.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Sequence
from functools import reduce

from tortoise import fields
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import Q
from tortoise.models import Model

from auth.audit.merkle import Frontier, Range, consistency_ranges, fold, inclusion_ranges, subtrees


class TreeError(Exception):
    """The stored tree lacks a node it should have (it was damaged): proofs cannot be made."""


class AuditNode(Model):
    id = fields.BigIntField(primary_key=True)
    level = fields.SmallIntField()
    index = fields.BigIntField()
    hash = fields.BinaryField()  # 32 bytes

    class Meta:
        table = "audit_node"
        unique_together = (("level", "index"),)


async def nodes(
    wanted: Iterable[tuple[int, int]], connection: BaseDBAsyncClient | None = None
) -> dict[tuple[int, int], bytes]:
    keys = sorted(set(wanted))
    if not keys:
        return {}
    found: dict[tuple[int, int], bytes] = {}
    for start in range(0, len(keys), 200):
        chunk = keys[start : start + 200]
        where = reduce(operator.or_, (Q(level=level, index=index) for level, index in chunk))
        query = AuditNode.filter(where)
        if connection is not None:
            query = query.using_db(connection)
        for level, index, digest in await query.values_list("level", "index", "hash"):
            found[(level, index)] = bytes(digest)
    missing = [k for k in keys if k not in found]
    if missing:
        raise TreeError(f"the stored tree lacks node {missing[0]} (level, index)")
    return found


async def range_hashes(ranges: Sequence[Range], connection: BaseDBAsyncClient | None = None) -> list[bytes]:
    """MTH of each leaf range, from the stored complete subtrees, in one query."""
    parts = [subtrees(a, b) for a, b in ranges]
    found = await nodes((k for p in parts for k in p), connection)
    return [fold([found[k] for k in p]) for p in parts]


async def frontier(size: int, connection: BaseDBAsyncClient | None = None) -> Frontier:
    """The right edge of the stored tree of ``size`` leaves: where the sequencer resumes."""
    covering = Frontier.covering(size)
    found = await nodes(covering, connection)
    return Frontier(size, [found[k] for k in covering])


async def inclusion_proof(index: int, size: int) -> list[bytes]:
    return await range_hashes(inclusion_ranges(index, size))


async def consistency_proof(size1: int, size2: int) -> list[bytes]:
    return await range_hashes(consistency_ranges(size1, size2))
