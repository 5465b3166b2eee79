"""Threads of one smearing process: torch's and numba's together."""

import numba
import pytest
import torch

from mlsmear.threads import in_worker_process, limited_threads


def test_limited_threads_sets_both_and_restores_them():
    before = torch.get_num_threads(), numba.get_num_threads()
    with limited_threads(1):
        assert (torch.get_num_threads(), numba.get_num_threads()) == (1, 1)
    assert (torch.get_num_threads(), numba.get_num_threads()) == before
    with pytest.raises(ValueError, match="threads must be >= 1"), limited_threads(0):
        pass
    assert (torch.get_num_threads(), numba.get_num_threads()) == before


def test_the_test_process_is_no_worker_process():
    # pytest-xdist workers start by execnet, not multiprocessing: mlsmear's "auto" threads
    # leave them alone (tests/conftest.py sets their one thread itself)
    assert not in_worker_process()
