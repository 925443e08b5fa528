"""NonFiniteLossHook: a NaN loss stops the run before the update, or the step is skipped."""
import math

import pytest
import torch
from mmengine.config import Config
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch.utils.data import Dataset

from vlseg.compat.checkpoint import load_local_checkpoint
from vlseg.engine import NonFiniteLossError, NonFiniteLossHook, apply_run_defaults


class _Ones(Dataset):

    def __len__(self):
        return 4

    def __getitem__(self, index):
        return dict(inputs=torch.ones(2))


class _Model(BaseModel):
    """loss_fit pulls the weight to 0; loss_aux turns NaN (or Inf) at the steps in ``bad``."""

    def __init__(self, bad=(), value=math.nan):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(2))
        self.bad, self.value, self.calls = set(bad), value, 0

    def forward(self, inputs, data_samples=None, mode='tensor'):
        self.calls += 1
        x = inputs  # (B, 2)
        aux = (x * self.weight).mean()
        if self.calls in self.bad:
            aux = aux * self.value
        return dict(loss_fit=(self.weight ** 2).sum(), loss_aux=aux, acc=torch.tensor(1.0))


def _runner(tmp_path, model, hooks=(), max_iters=5):
    cfg = Config(dict(
        custom_hooks=list(hooks),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1, by_epoch=False),
                           logger=dict(type='LoggerHook', interval=1)),
        train_cfg=dict(type='IterBasedTrainLoop', max_iters=max_iters)))
    apply_run_defaults(cfg)
    return Runner(model=model, work_dir=str(tmp_path), default_scope='mmseg',
                  train_dataloader=dict(dataset=_Ones(), batch_size=2, collate_fn=dict(
                      type='default_collate'), sampler=dict(type='InfiniteSampler')),
                  optim_wrapper=dict(optimizer=dict(type='Adam', lr=0.1)),
                  train_cfg=cfg.train_cfg, default_hooks=cfg.default_hooks,
                  custom_hooks=cfg.custom_hooks)


@pytest.mark.parametrize('value', [math.nan, math.inf])
def test_raise_names_the_term_and_iteration_and_keeps_the_last_good_checkpoint(tmp_path,
                                                                               value):
    runner = _runner(tmp_path, _Model(bad={3}, value=value))
    with pytest.raises(NonFiniteLossError, match=r'iteration 3: non-finite loss loss_aux = '
                                                 rf'{"nan" if math.isnan(value) else "inf"}'):
        runner.train()
    assert not (tmp_path / 'iter_3.pth').exists()
    good = load_local_checkpoint(tmp_path / 'iter_2.pth')['state_dict']['weight']
    assert torch.isfinite(good).all()
    assert torch.equal(runner.model.weight.detach(), good)  # the bad step did not update


def test_skip_leaves_weights_and_optimizer_state_untouched_and_counts(tmp_path):
    model = _Model(bad={3, 4})
    hook = NonFiniteLossHook(policy='skip')
    runner = _runner(tmp_path, model, hooks=[hook], max_iters=6)
    runner.train()
    assert hook.skipped == 2
    assert runner.message_hub.get_scalar('train/skipped_steps').current() == 2
    ckpt = {i: load_local_checkpoint(tmp_path / f'iter_{i}.pth') for i in (2, 3, 4, 5)}
    assert torch.equal(ckpt[2]['state_dict']['weight'], ckpt[4]['state_dict']['weight'])
    assert not torch.equal(ckpt[4]['state_dict']['weight'], ckpt[5]['state_dict']['weight'])
    state = {i: ckpt[i]['optimizer']['state'][0] for i in (2, 4, 5)}
    assert state[4]['step'] == state[2]['step'] == 2 and state[5]['step'] == 3
    assert torch.equal(state[4]['exp_avg'], state[2]['exp_avg'])
    assert torch.isfinite(runner.model.weight).all()


def test_skip_stops_after_max_skips_in_a_row(tmp_path):
    runner = _runner(tmp_path, _Model(bad={2, 3, 4}),
                     hooks=[dict(type='NonFiniteLossHook', policy='skip', max_skips=3)])
    with pytest.raises(NonFiniteLossError, match=r'iteration 4.*3 consecutive steps skipped'):
        runner.train()


def test_bad_policy():
    with pytest.raises(ValueError, match="policy must be one of"):
        NonFiniteLossHook(policy='ignore')


def _ddp_worker(rank, world, port, policy, errors):
    import os
    from datetime import timedelta
    from types import SimpleNamespace

    import torch.distributed as dist
    from mmengine.logging import MessageHub
    from mmengine.model import MMDistributedDataParallel
    from mmengine.optim import OptimWrapper
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group('gloo', rank=rank, world_size=world, timeout=timedelta(seconds=60))
    try:
        model = _Model(bad={2} if rank == 0 else set())  # NaN on rank 0 only, at step 2
        ddp = MMDistributedDataParallel(model, device_ids=None)
        optim = OptimWrapper(torch.optim.Adam(ddp.parameters(), lr=0.1))
        hook = NonFiniteLossHook(policy=policy)
        runner = SimpleNamespace(model=ddp, optim_wrapper=optim, iter=0,
                                 message_hub=MessageHub.get_instance(f'ddp_{rank}'))
        hook.before_train(runner)
        weights = []
        for step in range(3):
            runner.iter = step
            try:
                ddp.train_step(dict(inputs=torch.ones(2, 2)), optim_wrapper=optim)
            except NonFiniteLossError as err:
                errors.put((rank, step, str(err)))
                return
            weights.append(model.weight.detach().clone())
        errors.put((rank, 'skipped', hook.skipped, [w.tolist() for w in weights]))
    finally:
        dist.destroy_process_group()


@pytest.mark.parametrize('policy', ['raise', 'skip'])
def test_ranks_stop_or_skip_together(policy):
    import socket
    import sys

    import torch.multiprocessing as mp
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
    method = 'fork' if sys.platform == 'linux' else 'spawn'
    queue = mp.get_context(method).SimpleQueue()
    mp.start_processes(_ddp_worker, args=(2, port, policy, queue), nprocs=2, join=True,
                       start_method=method)
    results = sorted((queue.get() for _ in range(2)), key=lambda r: r[0])
    if policy == 'raise':
        # rank 1's own loss is finite: it stops because rank 0's is not, instead of hanging
        assert [r[:2] for r in results] == [(0, 1), (1, 1)]
        assert 'loss_aux = nan' in results[0][2] and 'on another rank' in results[1][2]
    else:
        for rank, _, skipped, weights in results:
            assert skipped == 1
            assert weights[0] == weights[1] != weights[2]  # step 2 skipped, step 3 trained
        assert results[0][3] == results[1][3]  # the ranks stay in step
