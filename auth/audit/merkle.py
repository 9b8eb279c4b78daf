"""The Merkle tree hash of RFC 9162 (Certificate Transparency 2.0), section 2.1: hashing, proofs, checks.

Pure functions, no storage. Leaves and nodes hash with different one-byte prefixes (RFC 9162 2.1.1:
``0x00`` for a leaf, ``0x01`` for an interior node), so a leaf can never pass for a node. A tree of
``n`` leaves splits at ``k``, the largest power of two smaller than ``n``.

Proofs are described as the ranges ``[start, end)`` of leaves whose subtree hashes they carry
(``inclusion_ranges``, ``consistency_ranges``), so that a store can fetch those hashes in one go;
``verify_inclusion`` and ``verify_consistency`` are the verification algorithms of RFC 9162
2.1.3.2 and 2.1.4.2, which need nothing but the proof and the two roots.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
EMPTY_ROOT = hashlib.sha256(b"").digest()  # MTH({}) = SHA-256() (RFC 9162 2.1.1)

Range = tuple[int, int]


class ProofError(ValueError):
    """A proof that does not prove what it claims."""


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def split(n: int) -> int:
    """The largest power of two smaller than ``n`` (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def root_of(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH(D[n]) from the leaves' hashes (for tests and small trees; stores use Frontier)."""
    n = len(leaf_hashes)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaf_hashes[0]
    k = split(n)
    return node_hash(root_of(leaf_hashes[:k]), root_of(leaf_hashes[k:]))


def subtrees(start: int, end: int) -> list[tuple[int, int]]:
    """The complete, aligned subtrees covering ``[start, end)``, left to right, as (level, index):
    level L, index i covers leaves ``[i * 2**L, (i + 1) * 2**L)``."""
    out: list[tuple[int, int]] = []
    while start < end:
        level = (start & -start).bit_length() - 1 if start else (end - start).bit_length() - 1
        while (1 << level) > end - start:
            level -= 1
        out.append((level, start >> level))
        start += 1 << level
    return out


def fold(hashes: Sequence[bytes]) -> bytes:
    """The hash of a range from its complete subtrees (``subtrees``), largest first: a right fold,
    which is MTH for every range a proof of RFC 9162 asks for (each starts at a multiple of its split)."""
    acc = hashes[-1]
    for h in reversed(hashes[:-1]):
        acc = node_hash(h, acc)
    return acc


def inclusion_ranges(m: int, n: int) -> list[Range]:
    """PATH(m, D[n]) of RFC 9162 2.1.3.1, as the leaf ranges whose hashes it lists, leaf to root."""
    if not 0 <= m < n:
        raise ProofError(f"leaf {m} is not in a tree of size {n}")
    return _path(m, 0, n)


def _path(m: int, start: int, end: int) -> list[Range]:
    n = end - start
    if n == 1:
        return []
    k = split(n)
    if m < k:
        return [*_path(m, start, start + k), (start + k, end)]
    return [*_path(m - k, start + k, end), (start, start + k)]


def consistency_ranges(m: int, n: int) -> list[Range]:
    """PROOF(m, D[n]) of RFC 9162 2.1.4.1: empty when m is 0 or m equals n."""
    if not 0 <= m <= n:
        raise ProofError(f"a tree of size {m} cannot precede one of size {n}")
    if m in (0, n):
        return []
    return _subproof(m, 0, n, True)


def _subproof(m: int, start: int, end: int, complete: bool) -> list[Range]:
    n = end - start
    if m == n:
        return [] if complete else [(start, end)]
    k = split(n)
    if m <= k:
        return [*_subproof(m, start, start + k, complete), (start + k, end)]
    return [*_subproof(m - k, start + k, end, False), (start, start + k)]


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes) -> None:
    """RFC 9162 2.1.3.2: ``leaf`` (a leaf hash) is at ``index`` in the tree of ``size`` with ``root``."""
    if not 0 <= index < size:
        raise ProofError(f"leaf {index} is not in a tree of size {size}")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise ProofError("the inclusion proof is too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("the inclusion proof is too short")
    if r != root:
        raise ProofError("the inclusion proof does not lead to the root")


def verify_consistency(size1: int, size2: int, root1: bytes, root2: bytes, proof: Sequence[bytes]) -> None:
    """RFC 9162 2.1.4.2: the tree of ``size2`` with ``root2`` extends the one of ``size1`` with ``root1``."""
    if not 0 <= size1 <= size2:
        raise ProofError(f"a tree of size {size1} cannot precede one of size {size2}")
    if size1 == size2:
        if proof or root1 != root2:
            raise ProofError("two checkpoints of one size must have one root and an empty proof")
        return
    if size1 == 0:
        if proof:
            raise ProofError("consistency with the empty tree needs no proof")
        return
    if not proof:
        raise ProofError("the consistency proof is empty")
    path = list(proof)
    if size1 & (size1 - 1) == 0:  # a power of two: the first tree is a subtree; its root starts the path
        path.insert(0, root1)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("the consistency proof is too long")
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("the consistency proof is too short")
    if fr != root1 or sr != root2:
        raise ProofError("the consistency proof does not join the two roots")


@dataclass
class Frontier:
    """The right edge of a growing tree (a "compact range"): one complete subtree per set bit of
    ``size``, largest first. Appending a leaf is O(log n) and yields every subtree it completes."""

    size: int = 0
    hashes: list[bytes] = field(default_factory=list)

    def append(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        """Add a leaf hash; returns the nodes it completed as (level, index, hash), the leaf first."""
        index, node, level = self.size, leaf, 0
        done = [(0, index, leaf)]
        while index & 1:
            node = node_hash(self.hashes.pop(), node)
            index, level = index >> 1, level + 1
            done.append((level, index, node))
        self.hashes.append(node)
        self.size += 1
        return done

    def extend(self, leaves: Iterable[bytes]) -> list[tuple[int, int, bytes]]:
        return [n for leaf in leaves for n in self.append(leaf)]

    def root(self) -> bytes:
        return fold(self.hashes) if self.hashes else EMPTY_ROOT

    @classmethod
    def covering(cls, size: int) -> list[tuple[int, int]]:
        """The (level, index) of the frontier's subtrees of a tree of ``size``: load them to resume."""
        return subtrees(0, size)
