#!/usr/bin/env bash
# Distributed testing of a checkpoint with torchrun on this machine (and others, see NNODES).
#
#   bash tools/dist_test.sh CONFIG CHECKPOINT GPUS [tools/test.py options]
#
# GPUS is the number of processes on this machine: one per GPU, or, on a machine without a GPU,
# that many CPU processes (tools/test.py then uses the gloo backend by itself). Each test image
# counts once, whatever the number of processes.
# Environment variables (all optional):
#   NNODES       number of machines (default 1); start the script on each of them
#   NODE_RANK    index of this machine, 0 .. NNODES-1 (default 0)
#   MASTER_ADDR  address of machine 0 (default 127.0.0.1)
#   PORT         port on machine 0 (default: a free one; needed when NNODES > 1)
#   OMP_NUM_THREADS  threads of each process (default: the cores of this machine / GPUS)
#   PYTHON       the Python interpreter (default python)
# Example:
#   bash tools/dist_test.sh configs/unet_synthetic.py \
#       work_dirs/unet_synthetic/best_mDice_iter_600.pth 2
set -euo pipefail

if [[ $# -lt 3 ]]; then
    echo "usage: [NNODES=.. NODE_RANK=.. MASTER_ADDR=.. PORT=..] $0 CONFIG CHECKPOINT GPUS" \
        "[options]" >&2
    exit 2
fi
CONFIG=$1
CHECKPOINT=$2
GPUS=$3
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
MASTER_ADDR=${MASTER_ADDR:-127.0.0.1}
PYTHON=${PYTHON:-python}
TOOLS=$(dirname "$0")
FREE_PORT='import socket; s = socket.socket(); s.bind(("", 0)); print(s.getsockname()[1])'

if [[ -z ${PORT:-} ]]; then
    if [[ $NNODES -gt 1 ]]; then
        echo "$0: set PORT to the same free port on every machine when NNODES > 1" >&2
        exit 2
    fi
    PORT=$("$PYTHON" -c "$FREE_PORT")
fi
# torchrun would give each process 1 thread; CPU processes need the cores shared out instead.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$(( $(nproc) / GPUS > 0 ? $(nproc) / GPUS : 1 ))}
export PYTHONPATH="$TOOLS/..${PYTHONPATH:+:$PYTHONPATH}"

exec "$PYTHON" -m torch.distributed.run \
    --nnodes="$NNODES" \
    --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" \
    --master_port="$PORT" \
    --nproc_per_node="$GPUS" \
    "$TOOLS/test.py" "$CONFIG" "$CHECKPOINT" --launcher pytorch "${@:4}"
