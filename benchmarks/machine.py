"""What the benchmark scripts of this folder record about the machine they ran on."""
import os
import platform

__all__ = ['cpu_model', 'device_label']


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (e.g. ``AMD EPYC``), else what Python knows."""
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or 'unknown'


def device_label() -> str:
    """``cpu<N>`` for N logical CPUs, the device part of the result file names."""
    return f'cpu{os.cpu_count()}'
