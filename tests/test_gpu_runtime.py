"""GPU fast paths; skipped without CUDA (run them on a GPU worker: pytest -m gpu)."""

from __future__ import annotations

import pytest
import torch

from trainables.common import runtime

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]


def test_setup_device_takes_the_cudnn_path():
    device = runtime.setup_device(threads=1)
    assert device.type == "cuda"
    assert torch.backends.cudnn.enabled and torch.backends.cudnn.benchmark


def test_pinned_transfer_and_mixed_precision_train_an_lstm():
    device = torch.device("cuda")
    x = runtime.to_device(torch.randn(16, 30, 2), device)
    y = runtime.to_device(torch.randn(16, 2), device)
    assert x.is_cuda
    lstm, head = torch.nn.LSTM(2, 32, num_layers=2, batch_first=True).to(device), torch.nn.Linear(32, 2).to(device)
    opt = torch.optim.Adam([*lstm.parameters(), *head.parameters()], lr=1e-2)
    mp = runtime.MixedPrecision(device, requested=True)
    assert mp.enabled
    losses = []
    for _ in range(30):
        opt.zero_grad(set_to_none=True)
        with mp.autocast():
            out, _ = lstm(x)
            pred = head(out[:, -1])
        assert pred.dtype == torch.float16
        loss = torch.nn.functional.mse_loss(pred.float(), y)
        mp.step(loss, opt)
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    assert "scale" in mp.state_dict()


@pytest.mark.skipif(torch.cuda.is_available() and not torch.cuda.is_bf16_supported(including_emulation=False),
                    reason="this GPU has no bfloat16")
def test_bfloat16_amp_autocasts_without_a_scaler_and_trains():
    device = torch.device("cuda")
    mp = runtime.MixedPrecision(device, requested=True, dtype=runtime.BFLOAT16)
    assert mp.enabled and mp.name == runtime.BFLOAT16 and not mp.scaler.is_enabled()
    lstm, head = torch.nn.LSTM(2, 16, batch_first=True).to(device), torch.nn.Linear(16, 2).to(device)
    opt = torch.optim.Adam([*lstm.parameters(), *head.parameters()], lr=1e-2)
    x, y = torch.randn(8, 10, 2, device=device), torch.randn(8, 2, device=device)
    losses = []
    for _ in range(20):
        opt.zero_grad(set_to_none=True)
        with mp.autocast():
            pred = head(lstm(x)[0][:, -1])
        assert pred.dtype == torch.bfloat16
        loss = torch.nn.functional.mse_loss(pred.float(), y)
        mp.step(loss, opt)
        losses.append(loss.item())
    assert losses[-1] < losses[0]


def test_a_deterministic_trial_turns_cudnn_benchmark_off():
    runtime.setup_device(threads=1, deterministic=True)
    try:
        assert torch.are_deterministic_algorithms_enabled() and torch.backends.cudnn.deterministic
        assert not torch.backends.cudnn.benchmark
    finally:
        runtime.reset_process()
