#!/bin/sh
# Instructions per TGS-REQ handled by KdcCore, from callgrind (see bench/kdc_replay.py).
#   bench/kdc_replay.py record DIR 300 [--one-tgt]; bench/kdc_icount.sh DIR
set -eu
dir=$1
here=$(cd "$(dirname "$0")/.." && pwd)
count() {
    valgrind --tool=callgrind --callgrind-out-file=/dev/null \
        "$here/.venv/bin/python" "$here/bench/kdc_replay.py" replay "$dir" "$1" 2>&1 |
        awk '/Collected/ {print $4}'
}
a=$(count 0)
b=$(count 200)
echo "$(( (b - a) / 200 )) instructions/request"
