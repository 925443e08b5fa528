import pytest
import torch

from vlseg.models.layers import PLAM


def test_plam_matches_hand_computation():
    torch.manual_seed(0)
    plam = PLAM(channels=2)
    x = torch.randn(1, 2, 3, 3)
    # by hand, pixel (i, j): a = mean_c relu(W_avg x), m = max_c relu(W_max x)
    w_avg = plam.conv_avg.weight[:, :, 0, 0]
    w_max = plam.conv_max.weight[:, :, 0, 0]
    lin1, lin2 = plam.bottleneck[0], plam.bottleneck[2]
    expected = torch.empty_like(x)
    for i in range(3):
        for j in range(3):
            v = x[0, :, i, j]
            a = (w_avg @ v).relu().mean()
            m = (w_max @ v).relu().max()
            s = lin2((lin1(torch.stack([a, m, a + m]))).relu())
            expected[0, :, i, j] = s * v
    torch.testing.assert_close(plam(x), expected)


def test_plam_gate_option_and_gradients():
    plam = PLAM(4, map_act_layer=torch.nn.Sigmoid)
    x = torch.randn(2, 4, 5, 5, requires_grad=True)
    amap = plam.attention_map(x)
    assert amap.shape == (2, 1, 5, 5) and (amap > 0).all() and (amap < 1).all()
    plam(x).sum().backward()
    for name, p in plam.named_parameters():
        assert p.grad is not None, name
    with pytest.raises(ValueError):
        PLAM(0)
