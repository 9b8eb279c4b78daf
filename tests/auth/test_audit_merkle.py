"""auth/audit/merkle.py against an independent RFC 6962/9162 implementation (pymerkle)."""

from __future__ import annotations

import pytest
from pymerkle import InmemoryTree  # type: ignore[import-untyped]

from auth.audit import merkle
from auth.audit.merkle import Frontier, ProofError

SIZES = range(1, 34)


def build(n: int) -> tuple[list[bytes], InmemoryTree]:
    data = [f"record {i}".encode() for i in range(n)]
    other = InmemoryTree(algorithm="sha256")
    for d in data:
        other.append_entry(d)
    return [merkle.leaf_hash(d) for d in data], other


def hashes(leaves: list[bytes], ranges: list[tuple[int, int]]) -> list[bytes]:
    return [merkle.root_of(leaves[a:b]) for a, b in ranges]


@pytest.mark.parametrize("n", SIZES)
def test_roots_match_pymerkle(n: int) -> None:
    leaves, other = build(n)
    edge = Frontier()
    completed = edge.extend(leaves)
    assert edge.root() == merkle.root_of(leaves) == other.get_root(n)
    # every complete subtree the frontier reports is the subtree's hash
    for level, index, digest in completed:
        assert digest == merkle.root_of(leaves[index << level : (index + 1) << level])


@pytest.mark.parametrize("n", SIZES)
def test_inclusion_proofs_match_pymerkle_and_verify(n: int) -> None:
    leaves, other = build(n)
    root = merkle.root_of(leaves)
    for m in range(n):
        proof = hashes(leaves, merkle.inclusion_ranges(m, n))
        theirs = other.prove_inclusion(m + 1, n)
        assert proof == [bytes.fromhex(h) if isinstance(h, str) else bytes(h) for h in theirs.path[1:]]
        merkle.verify_inclusion(m, n, leaves[m], proof, root)


@pytest.mark.parametrize("n", SIZES)
def test_consistency_proofs_match_pymerkle_and_verify(n: int) -> None:
    leaves, other = build(n)
    for m in range(1, n + 1):
        proof = hashes(leaves, merkle.consistency_ranges(m, n))
        # pymerkle lays its consistency proofs out differently: hold ours against its two roots
        merkle.verify_consistency(m, n, other.get_root(m), other.get_root(n), proof)
        if m < n:
            with pytest.raises(ProofError):
                merkle.verify_consistency(m, n, other.get_root(m), other.get_root(n), proof[:-1] or [b"x" * 32])


def test_a_changed_leaf_or_proof_does_not_verify() -> None:
    leaves, _ = build(13)
    root = merkle.root_of(leaves)
    proof = hashes(leaves, merkle.inclusion_ranges(5, 13))
    with pytest.raises(ProofError):
        merkle.verify_inclusion(5, 13, merkle.leaf_hash(b"forged"), proof, root)
    with pytest.raises(ProofError):
        merkle.verify_inclusion(6, 13, leaves[5], proof, root)
    with pytest.raises(ProofError):
        merkle.verify_inclusion(5, 13, leaves[5], proof[:-1], root)
    consistency = hashes(leaves, merkle.consistency_ranges(7, 13))
    with pytest.raises(ProofError):  # a tree of 7 whose history was rewritten
        merkle.verify_consistency(7, 13, merkle.root_of([*leaves[:6], leaves[0]]), root, consistency)


def test_leaves_and_nodes_are_domain_separated() -> None:
    a, b = merkle.leaf_hash(b"a"), merkle.leaf_hash(b"b")
    assert merkle.node_hash(a, b) != merkle.leaf_hash(a + b)


def test_the_frontier_resumes_from_the_stored_subtrees() -> None:
    leaves, _ = build(21)
    whole = Frontier()
    nodes = {(lv, ix): h for lv, ix, h in whole.extend(leaves[:13])}
    resumed = Frontier(13, [nodes[k] for k in Frontier.covering(13)])
    resumed.extend(leaves[13:])
    assert resumed.root() == merkle.root_of(leaves)
