#!/usr/bin/env bash
# Distributed testing of a checkpoint under slurm: srun starts GPUS tasks, GPUS_PER_NODE a node.
#
#   bash tools/slurm_test.sh PARTITION JOB_NAME CONFIG CHECKPOINT [tools/test.py options]
#
# The same tasks and environment variables as tools/slurm_train.sh, running tools/test.py.
# Each test image counts once, whatever the number of tasks.
# Example:
#   GPUS=2 GRES=none bash tools/slurm_test.sh cpu unet configs/unet_synthetic.py \
#       work_dirs/unet_synthetic/best_mDice_iter_600.pth
set -euo pipefail

if [[ $# -lt 4 ]]; then
    echo "usage: [GPUS=.. GPUS_PER_NODE=.. GRES=..] $0 PARTITION JOB_NAME CONFIG CHECKPOINT" \
        "[options]" >&2
    exit 2
fi
VLSEG_TOOL=test.py exec bash "$(dirname "$0")/slurm_train.sh" "$@"
