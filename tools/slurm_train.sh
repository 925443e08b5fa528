#!/usr/bin/env bash
# Distributed training under slurm: srun starts GPUS tasks, GPUS_PER_NODE on each node.
#
#   bash tools/slurm_train.sh PARTITION JOB_NAME CONFIG [tools/train.py options]
#
# Each task is one process with one GPU, or, on a partition without GPUs (GRES=none), one CPU
# process (tools/train.py then uses the gloo backend by itself).
# Environment variables (all optional):
#   GPUS           number of tasks (default 4)
#   GPUS_PER_NODE  tasks on each node (default 4, or GPUS when fewer)
#   CPUS_PER_TASK  CPU cores of each task (default 5), also its number of threads
#   GRES           generic resources of each node (default gpu:GPUS_PER_NODE; none: no --gres)
#   SRUN_ARGS      more srun options, e.g. "--time=1:00:00 --mem=32G"
#   PORT           port on the first node (default: a port free on this machine)
#   PYTHON         the Python interpreter of the tasks (default python)
#   VLSEG_TOOL     the tool to run (default train.py; slurm_test.sh sets test.py)
# Example: GPUS=2 GRES=none bash tools/slurm_train.sh cpu unet configs/unet_synthetic.py
set -euo pipefail

if [[ $# -lt 3 ]]; then
    echo "usage: [GPUS=.. GPUS_PER_NODE=.. GRES=..] $0 PARTITION JOB_NAME CONFIG [options]" >&2
    exit 2
fi
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
GPUS=${GPUS:-4}
GPUS_PER_NODE=${GPUS_PER_NODE:-$(( GPUS < 4 ? GPUS : 4 ))}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
GRES=${GRES:-gpu:$GPUS_PER_NODE}
SRUN_ARGS=${SRUN_ARGS:-}
PYTHON=${PYTHON:-python}
TOOLS=$(dirname "$0")
TOOL=${VLSEG_TOOL:-train.py}
FREE_PORT='import socket; s = socket.socket(); s.bind(("", 0)); print(s.getsockname()[1])'

GRES_ARG=()
if [[ $GRES != none ]]; then
    GRES_ARG=(--gres="$GRES")
fi
# srun passes the environment on to the tasks: the master port, the threads, the package.
export MASTER_PORT=${PORT:-$("$PYTHON" -c "$FREE_PORT")}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$CPUS_PER_TASK}
export PYTHONPATH="$TOOLS/..${PYTHONPATH:+:$PYTHONPATH}"

# SRUN_ARGS is split into words on purpose.
# shellcheck disable=SC2086
srun --partition="$PARTITION" \
    --job-name="$JOB_NAME" \
    ${GRES_ARG[@]+"${GRES_ARG[@]}"} \
    --ntasks="$GPUS" \
    --ntasks-per-node="$GPUS_PER_NODE" \
    --cpus-per-task="$CPUS_PER_TASK" \
    --kill-on-bad-exit=1 \
    $SRUN_ARGS \
    "$PYTHON" -u "$TOOLS/$TOOL" "$CONFIG" "${@:4}" --launcher slurm
