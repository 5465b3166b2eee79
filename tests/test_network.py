"""mlsmear.network: head shapes, autoregression (head k sees only quantities 0 ... k-1), scores."""

import torch

from mlsmear.network import SmearNet


def test_heads_see_only_earlier_quantities():
    torch.manual_seed(0)
    net = SmearNet(3, 4, trunk=(16, 16), head=8)
    x, positions = torch.rand(5, 3), torch.rand(5, 4)
    logits = net(x, positions)
    assert [tuple(t.shape) for t in logits] == [(5, 101)] * 4
    later = positions.clone()
    later[:, 2:] = torch.rand(5, 2)  # quantities 2 and 3 changed: heads 0-2 unchanged
    again = net(x, later)
    for k in range(3):
        torch.testing.assert_close(again[k], logits[k], rtol=0, atol=0)
    assert not torch.equal(again[3], logits[3])


def test_independent_heads_ignore_positions_and_config_round_trip():
    net = SmearNet(2, 3, trunk=(8,), head=4, autoregressive=False)
    x = torch.rand(4, 2)
    a, b = net(x, torch.rand(4, 3)), net(x, torch.rand(4, 3))
    assert all(torch.equal(p, q) for p, q in zip(a, b, strict=True))
    rebuilt = SmearNet(**{**net.config(), "trunk": tuple(net.config()["trunk"])})
    assert rebuilt.config() == net.config()


def test_normal_scores_are_finite_at_the_edges():
    scores = SmearNet.normal_scores(torch.tensor([0.0, 0.5, 1.0]))
    assert torch.isfinite(scores).all() and scores[1] == 0 and scores[0] < -4.5
    torch.testing.assert_close(scores[2], -scores[0], rtol=1e-3, atol=0)  # float32 1 - 1e-6
