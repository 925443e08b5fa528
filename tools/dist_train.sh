#!/usr/bin/env bash
# Distributed training with torchrun on this machine (and others, see NNODES).
#
#   bash tools/dist_train.sh CONFIG GPUS [tools/train.py options]
#
# GPUS is the number of processes on this machine: one per GPU, or, on a machine without a GPU,
# that many CPU processes (tools/train.py then uses the gloo backend by itself).
# Environment variables (all optional):
#   NNODES       number of machines (default 1); start the script on each of them
#   NODE_RANK    index of this machine, 0 .. NNODES-1 (default 0)
#   MASTER_ADDR  address of machine 0 (default 127.0.0.1)
#   PORT         port on machine 0 (default: a free one; needed when NNODES > 1)
#   OMP_NUM_THREADS  threads of each process (default: the cores of this machine / GPUS)
#   PYTHON       the Python interpreter (default python)
#   VLSEG_TOOL   the tool to run (default train.py; dist_test.sh sets test.py)
# Example: bash tools/dist_train.sh configs/unet_synthetic.py 2 --work-dir work_dirs/unet_ddp
set -euo pipefail

if [[ $# -lt 2 ]]; then
    echo "usage: [NNODES=.. NODE_RANK=.. MASTER_ADDR=.. PORT=..] $0 CONFIG GPUS [options]" >&2
    exit 2
fi
CONFIG=$1
GPUS=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
MASTER_ADDR=${MASTER_ADDR:-127.0.0.1}
PYTHON=${PYTHON:-python}
TOOLS=$(dirname "$0")
TOOL=${VLSEG_TOOL:-train.py}
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
    "$TOOLS/$TOOL" "$CONFIG" "${@:3}" --launcher pytorch
