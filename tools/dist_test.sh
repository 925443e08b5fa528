#!/usr/bin/env bash
# Distributed testing of a checkpoint with torchrun on this machine (and others, see NNODES).
#
#   bash tools/dist_test.sh CONFIG CHECKPOINT GPUS [tools/test.py options]
#
# The same processes and environment variables as tools/dist_train.sh, running tools/test.py.
# Each test image counts once, whatever the number of processes.
# Example:
#   bash tools/dist_test.sh configs/unet_synthetic.py \
#       work_dirs/unet_synthetic/best_mDice_iter_600.pth 2
set -euo pipefail

if [[ $# -lt 3 ]]; then
    echo "usage: [NNODES=.. NODE_RANK=.. MASTER_ADDR=.. PORT=..] $0 CONFIG CHECKPOINT GPUS" \
        "[options]" >&2
    exit 2
fi
VLSEG_TOOL=test.py exec bash "$(dirname "$0")/dist_train.sh" "$1" "$3" "$2" "${@:4}"
