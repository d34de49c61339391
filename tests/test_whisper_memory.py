"""Memory helpers of the Whisper engine: batch rows packed in place of copied."""

from __future__ import annotations

import torch

from aero_agent.engines.whisper.memory import PackedRows


def _pairs(rows: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    gen = torch.Generator().manual_seed(0)
    return [(torch.randn(rows, 3, 4, 5, generator=gen), torch.randn(rows, 3, 5, 4, generator=gen)) for _ in range(2)]


def test_packed_rows_match_index_select_and_restore() -> None:
    cross = _pairs(8)
    original = [(k.clone(), v.clone()) for k, v in cross]
    packed = PackedRows(cross)
    expected = [(k.index_select(0, torch.tensor([0, 2, 3, 5, 7])), v.index_select(0, torch.tensor([0, 2, 3, 5, 7])))
                for k, v in original]
    kept = packed.keep([0, 2, 3, 5, 7])
    for (k, v), (ek, ev) in zip(kept, expected):
        assert torch.equal(k, ek) and torch.equal(v, ev)
    assert all(k.data_ptr() == ck.data_ptr() for (k, _), (ck, _) in zip(kept, cross))  # views, not copies
    again = packed.keep([1, 4])  # positions among the rows kept: original rows 2 and 7
    for (k, v), (ok, ov) in zip(again, original):
        assert torch.equal(k, ok[[2, 7]]) and torch.equal(v, ov[[2, 7]])
    packed.restore()
    for (k, v), (ok, ov) in zip(cross, original):
        assert torch.equal(k, ok) and torch.equal(v, ov)


def test_packing_every_row_moves_nothing() -> None:
    cross = _pairs(4)
    kept = PackedRows(cross).keep([0, 1, 2, 3])
    assert all(k.shape == ck.shape and torch.equal(k, ck) for (k, _), (ck, _) in zip(kept, cross))

