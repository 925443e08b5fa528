"""float32_math: upcasts float16 / bfloat16 arguments and turns autocast off inside."""
import torch

from vlseg.models.layers.precision import float32_math, upcast


@float32_math
def _probe(x, y=None, scale=2.0):
    """Returns the dtypes it sees, whether autocast is on, and a matrix product."""
    return x.dtype, None if y is None else y.dtype, torch.is_autocast_enabled('cpu'), \
        (x @ x.t()) * scale


def test_upcasts_low_precision_and_leaves_the_rest():
    x = torch.randn(3, 4).bfloat16()
    dtype, y_dtype, _, out = _probe(x, y=torch.zeros(2, dtype=torch.long))
    assert dtype == torch.float32 and y_dtype == torch.long and out.dtype == torch.float32
    assert _probe(x.half())[0] == torch.float32
    assert _probe(x.double())[0] == torch.float64
    assert upcast('text') == 'text' and upcast(None) is None


def test_autocast_is_off_inside_and_the_product_is_float32():
    x = torch.randn(3, 4)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        assert (x @ x.t()).dtype == torch.bfloat16  # what autocast does outside
        _, _, enabled, out = _probe(x)
    assert not enabled and out.dtype == torch.float32
    torch.testing.assert_close(out, 2.0 * x @ x.t())


def test_gradient_reaches_the_low_precision_input_in_its_dtype():
    x = torch.randn(3, 4).bfloat16().requires_grad_()
    _probe(x)[-1].sum().backward()
    assert x.grad is not None and x.grad.dtype == torch.bfloat16


def test_without_tensor_arguments_the_function_just_runs():
    assert float32_math(lambda a, b: a + b)(1, 2) == 3
