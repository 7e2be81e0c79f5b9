"""keep_freed_memory: glibc keeps freed activation buffers instead of faulting them in again."""

import resource
import subprocess
import sys

import pytest

from minicnn.malloc import keep_freed_memory

_FAULTS_PER_ALLOCATION = """
import resource, sys
import numpy as np
if sys.argv[1] == "keep":
    from minicnn.malloc import keep_freed_memory
    assert keep_freed_memory()
for _ in range(3):
    np.ones(8_000_000)   # 64 MB: above glibc's largest dynamic mmap threshold (32 MB)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    np.ones(8_000_000)
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 20)
"""


def _faults_per_allocation(mode):
    result = subprocess.run([sys.executable, "-c", _FAULTS_PER_ALLOCATION, mode],
                            capture_output=True, text=True, check=True)
    return float(result.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt is Linux-only")
def test_freed_buffers_are_reused_without_page_faults():
    default = _faults_per_allocation("default")
    kept = _faults_per_allocation("keep")
    assert default > 100     # each 64 MB array is mapped afresh (hundreds of faults, more without huge pages)
    assert kept < default / 100


def test_second_call_is_harmless():
    first = keep_freed_memory()
    assert keep_freed_memory() == first
