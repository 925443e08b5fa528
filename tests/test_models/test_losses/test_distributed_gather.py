"""Gathering across ranks: 2 CPU processes (gloo) against one process on the concatenated batch.

For the three contrastive losses (RecLMIS CCL, DMMI image-text, TMCA target contrast through its
head), each rank holds the inputs of the whole global batch as replicated leaves (as DDP
replicates parameters), feeds the loss only its own rows, and backpropagates. Gradients are then
averaged over the ranks with an all-reduce, exactly what DDP does with parameter gradients. The
mean of the per-rank losses and the averaged gradients must equal the loss and gradients of a
single process on the concatenated batch, for equal (2 + 2) and unequal (3 + 2) batches.
"""
import copy
import hashlib
import math
import os
import socket
import sys
from datetime import timedelta

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from mmseg.registry import MODELS
from torch.nn.parallel import DistributedDataParallel

import vlseg  # noqa: F401
from vlseg.models.losses import ConditionedContrastiveLoss, ImageTextContrastiveLoss
from vlseg.models.losses.contrastive_utils import caption_ids, same_caption_mask, same_id_mask
from vlseg.models.losses.distributed_gather import gather_active, gather_batch
from vlseg.models.structures import AlignedFeatures, TextFeatures
from vlseg.utils import text_seg_samples

CAPTIONS = ['left lung', 'both lungs', 'left lung', 'right lung', 'both lungs']
SPLITS = ((2, 2), (3, 2))  # samples per rank; the second is the unequal last batch


def _rows(sizes, rank):
    start = sum(sizes[:rank])
    return slice(start, start + sizes[rank])


def _average_over_ranks(t):
    t = t.detach().clone()
    dist.all_reduce(t)
    return t / dist.get_world_size()


def _check_against_one_process(per_sample, make_replicated, loss_of, rows):
    """Runs the loss three times from the same values: one process on the whole batch, and
    each rank on its rows with and without gathering.

    per_sample: leaves with one row per sample of the global batch; the loss gets ``rows``.
    make_replicated(gather): fresh replicated leaves or modules (learnable temperatures, a
    head), the same on every rank. loss_of(xs, replicated, rows, gather) -> scalar loss.
    """
    runs = {}
    for mode, mode_rows, gather in (('one', slice(None), False), ('ddp', rows, True),
                                    ('local', rows, False)):
        xs = [x.detach().clone().requires_grad_() for x in per_sample]
        replicated = make_replicated(gather)
        loss = loss_of(xs, replicated, mode_rows, gather)
        loss.backward()
        params = [p for r in replicated
                  for p in (r.parameters() if isinstance(r, torch.nn.Module) else [r])]
        runs[mode] = loss.detach(), [x.grad for x in xs] + [p.grad for p in params]

    ref_loss, ref_grads = runs['one']
    loss, grads = runs['ddp']
    torch.testing.assert_close(_average_over_ranks(loss), ref_loss, rtol=1e-5, atol=1e-6)
    assert len(grads) == len(ref_grads)
    for got, want in zip(grads, ref_grads):
        # Every rank has its own rows' gradient in its slice and zeros elsewhere; replicated
        # leaves have a full gradient. DDP averages over the ranks, the all-reduce here too.
        torch.testing.assert_close(_average_over_ranks(got), want, rtol=1e-5, atol=1e-6)
    # The check is sensitive: without gathering, the averaged gradient is another one.
    _, local_grads = runs['local']
    assert not torch.allclose(_average_over_ranks(local_grads[0]), ref_grads[0], atol=1e-4)


def _ccl_case(sizes, rank):
    B, L, N, D = sum(sizes), 5, 6, 8
    g = torch.Generator().manual_seed(10 + B)
    pad = torch.zeros(B, L, dtype=torch.bool)
    pad[0, 3:] = True
    pad[3, 4:] = True
    text = torch.randn(B, L, D, generator=g)
    visual = torch.randn(B, N, D, generator=g)
    w = torch.randn(B, L, generator=g).masked_fill(pad, float('-inf')).softmax(-1)
    u = torch.randn(B, N, generator=g).softmax(-1)

    def loss_of(xs, replicated, rows, gather):
        loss_fn = ConditionedContrastiveLoss(loss_weight=0.2, same_caption_positive=True,
                                             gather_across_ranks=gather)
        return loss_fn(*[x[rows] for x in xs], text_pad_mask=pad[rows],
                       logit_scale=replicated[0].exp(), captions=CAPTIONS[:B][rows])

    _check_against_one_process([text, visual, w, u],
                               lambda gather: [torch.tensor(math.log(5.0), requires_grad=True)],
                               loss_of, _rows(sizes, rank))


def _itc_case(sizes, rank):
    B, D = sum(sizes), 6
    g = torch.Generator().manual_seed(20 + B)
    img, txt = torch.randn(B, D, generator=g), torch.randn(B, D, generator=g)
    weights = torch.tensor([1.0, 0.0, 1.0, 1.0, 1.0])[:B]  # DMMI's target flags

    def loss_of(xs, replicated, rows, gather):
        loss_fn = ImageTextContrastiveLoss(loss_weight=0.5, temperature=0.1,
                                           gather_across_ranks=gather)
        return loss_fn(xs[0][rows], xs[1][rows], weights[rows], captions=CAPTIONS[:B][rows])

    _check_against_one_process([img, txt], lambda gather: [], loss_of, _rows(sizes, rank))


def _tmca_case(sizes, rank):
    """Through MultiLevelAlignmentHead, which gathers before computing the distances."""
    B, D, S = sum(sizes), 4, 8
    g = torch.Generator().manual_seed(30 + B)
    masks = (torch.rand(B, S, S, generator=g) > 0.6).long()
    masks[1] = 0  # an empty target: left out of the loss; the count of kept samples is global
    masks[2, :2] = 255  # ignored pixels
    embeds = [torch.randn(B, D, S // 2**i, S // 2**i, generator=g) for i in range(2)]
    texts = [torch.randn(B, D, generator=g) for _ in range(2)]

    def make_head(gather):  # its learnable temperatures are replicated parameters
        return [MODELS.build(dict(type='MultiLevelAlignmentHead', levels=(0, 1),
                                  level_weights=(1.0, 0.5), gather_across_ranks=gather))]

    def loss_of(xs, replicated, rows, gather):
        n = len(CAPTIONS[:B][rows])
        features = AlignedFeatures(
            maps=(), text=TextFeatures(torch.zeros(n, 1, D), torch.zeros(n, 1, dtype=torch.bool)),
            encoder_maps=(), levels=(0, 1), visual_embeds=tuple(x[rows] for x in xs[:2]),
            text_embeds=tuple(x[rows] for x in xs[2:]), attentions=(),
            sentence=torch.zeros(n, D))
        samples = text_seg_samples(CAPTIONS[:B][rows], S, masks[rows])
        losses = replicated[0].loss(features, samples)
        return sum(v for k, v in losses.items() if k.startswith('loss'))

    _check_against_one_process(embeds + texts, make_head, loss_of, _rows(sizes, rank))


class _TwoTowers(torch.nn.Module):
    """Linear image and text projections, for a real DistributedDataParallel check."""

    def __init__(self):
        super().__init__()
        self.img = torch.nn.Linear(6, 4)
        self.txt = torch.nn.Linear(5, 4)

    def forward(self, img, txt):
        return self.img(img), self.txt(txt)


def _real_ddp_case(sizes, rank):
    """DistributedDataParallel itself averages the gradients: same result as one process."""
    B = sum(sizes)
    g = torch.Generator().manual_seed(40 + B)
    img, txt = torch.randn(B, 6, generator=g), torch.randn(B, 5, generator=g)
    torch.manual_seed(0)
    model = _TwoTowers()
    reference = copy.deepcopy(model)
    one = ImageTextContrastiveLoss(temperature=0.1, gather_across_ranks=False)
    one(*reference(img, txt), captions=CAPTIONS[:B]).backward()
    ddp = DistributedDataParallel(model)
    rows = _rows(sizes, rank)
    ImageTextContrastiveLoss(temperature=0.1)(*ddp(img[rows], txt[rows]),
                                              captions=CAPTIONS[:B][rows]).backward()
    for got, want in zip(model.parameters(), reference.parameters()):
        torch.testing.assert_close(got.grad, want.grad, rtol=1e-5, atol=1e-6)


def _mismatch_case(rank):
    x = torch.zeros(2, 4 + rank)  # rank 1 has a different width
    with pytest.raises(ValueError, match=r'input 0 differs between the ranks'):
        gather_batch([x])
    present = torch.zeros(2) if rank == 0 else None
    with pytest.raises(ValueError, match=r'input 1 differs between the ranks'):
        gather_batch([torch.zeros(2, 3), present])
    loss_fn = ImageTextContrastiveLoss()
    with pytest.raises(ValueError, match='pass the captions instead'):
        loss_fn(torch.randn(2, 4), torch.randn(2, 4), pos_mask=torch.eye(2, dtype=torch.bool))


def _worker(rank, world, port):
    os.environ['MASTER_ADDR'] = '127.0.0.1'
    os.environ['MASTER_PORT'] = str(port)
    torch.set_num_threads(1)
    dist.init_process_group('gloo', rank=rank, world_size=world, timeout=timedelta(seconds=120))
    try:
        assert gather_active()
        for sizes in SPLITS:
            _ccl_case(sizes, rank)
            _itc_case(sizes, rank)
            _tmca_case(sizes, rank)
            _real_ddp_case(sizes, rank)
        _mismatch_case(rank)
        # the ids of the same captions gathered from the other rank equal the local ones
        ids = caption_ids(CAPTIONS)
        torch.testing.assert_close(gather_batch([ids[None]])[0], torch.stack([ids, ids]))
    finally:
        dist.destroy_process_group()


def test_two_ranks_match_one_process_on_the_concatenated_batch():
    with socket.socket() as sock:  # a free port
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
    # fork: the children start with everything imported (spawn re-imports for ~10 s each); they
    # use one thread, as PyTorch's data loader workers do after a fork.
    method = 'fork' if sys.platform == 'linux' else 'spawn'
    mp.start_processes(_worker, args=(2, port), nprocs=2, join=True, start_method=method)


def test_gather_is_a_no_op_without_a_process_group():
    assert not gather_active()
    x, mask = torch.randn(3, 4), torch.zeros(3, dtype=torch.bool)
    out = gather_batch([x, None, mask])
    assert out[0] is x and out[1] is None and out[2] is mask
    with pytest.raises(ValueError, match='same B'):
        gather_batch([x, torch.zeros(2)])
    with pytest.raises(ValueError, match='at least one tensor'):
        gather_batch([None])
    # the losses are the same with and without the option
    g = torch.Generator().manual_seed(0)
    text, visual = torch.randn(3, 4, 8, generator=g), torch.randn(3, 5, 8, generator=g)
    w, u = torch.rand(3, 4, generator=g), torch.rand(3, 5, generator=g)
    for cls, args in ((ConditionedContrastiveLoss, (text, visual, w, u)),
                      (ImageTextContrastiveLoss, (text[:, 0], visual[:, 0]))):
        on, off = cls(gather_across_ranks=True), cls(gather_across_ranks=False)
        assert on(*args).item() == off(*args).item()


def test_caption_ids_are_stable_64_bit_digests():
    ids = caption_ids(['a b', 'c', 'a b', 'A b'])
    assert ids.dtype == torch.long and ids.shape == (4, )
    expected = int.from_bytes(hashlib.blake2b(b'a b', digest_size=8).digest(), 'little',
                              signed=True)
    assert ids[0].item() == expected
    assert torch.equal(same_id_mask(ids), same_caption_mask(['a b', 'c', 'a b', 'A b']))
    with pytest.raises(ValueError, match='needs the captions'):
        caption_ids(None)
    with pytest.raises(ValueError, match='got 2 captions for a batch of 3'):
        caption_ids(['a', 'b'], batch_size=3)
    with pytest.raises(ValueError, match='must be a str'):
        caption_ids(['a', None])
    with pytest.raises(ValueError, match=r'ids must be \(B,\)'):
        same_id_mask(ids[None])
