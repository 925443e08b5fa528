import pytest
import torch
import torch.nn.functional as F

from vlseg.models.layers import conv1d_bn_relu


def test_conv_bn_relu_keeps_the_length():
    torch.manual_seed(0)
    m = conv1d_bn_relu(10, 7).eval()
    with torch.no_grad():
        m.norm.running_mean.normal_()
        m.norm.running_var.uniform_(0.5, 2)
    x = torch.randn(2, 10, 9)
    out = m(x)
    assert out.shape == (2, 7, 9) and (out >= 0).all()
    ref = F.batch_norm(F.conv1d(x, m.conv.weight, m.conv.bias, padding=1), m.norm.running_mean,
                       m.norm.running_var, m.norm.weight, m.norm.bias, eps=m.norm.eps).relu()
    torch.testing.assert_close(out, ref)
    assert m.conv.bias is not None and m.conv.kernel_size == (3, )


def test_bad_arguments():
    with pytest.raises(ValueError, match='kernel_size'):
        conv1d_bn_relu(4, 4, kernel_size=2)
    with pytest.raises(ValueError, match='in_channels'):
        conv1d_bn_relu(0, 4)
