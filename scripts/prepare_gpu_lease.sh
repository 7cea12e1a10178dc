#!/usr/bin/env bash
# What a lent GPU machine needs for benchmarks/gpu_check.py and scripts/train_zoo.py, in gpu_lease/ (ignored
# by git, carried by the device tool): the training photos (the held-out ones left out, copied: links do not
# travel), the eight paintings and the VGG16 trunk the loss uses, in float16 (15 MB; 25 MB in all, and the
# working tree must stay under the device tool's 64 MiB with it). Prints the command.
#
#   scripts/prepare_gpu_lease.sh vgg16_hed.safetensors
set -euo pipefail
cd "$(dirname "$0")/.."
VGG=${1:?usage: scripts/prepare_gpu_lease.sh VGG16_HED.safetensors (from stylecam vgg import-hed)}
SHARED=${SHARED:-../shared/data}
PY=${PY:-.venv/bin/python}
grep -qx '/gpu_lease/' .git/info/exclude 2>/dev/null || echo '/gpu_lease/' >> .git/info/exclude
rm -rf gpu_lease
mkdir -p gpu_lease
links=$(mktemp -d)/train
"$PY" benchmarks/quality.py --content-dir "$SHARED/content" --training-folder "$links"
cp -rL "$links" gpu_lease/content
cp -r "$SHARED/styles" gpu_lease/styles
"$PY" - "$VGG" gpu_lease/vgg16_hed_fp16.safetensors <<'PY'
import sys
from safetensors import safe_open
from safetensors.torch import save_file
# the loss reads layers up to relu4_3 (index 22): conv5 stays behind, half the file
with safe_open(sys.argv[1], framework="pt") as f:
    meta, state = f.metadata(), {k: f.get_tensor(k).half().contiguous() for k in f.keys() if int(k.split(".")[0]) <= 22}
save_file(state, sys.argv[2], metadata=meta)
PY
du -sh gpu_lease
cat <<'CMD'
device run, carry ["gpu_lease"], timeout_s 600:
  export PYTHONUNBUFFERED=1; V=gpu_lease/vgg16_hed_fp16.safetensors;
  python3 benchmarks/gpu_check.py --vgg-weights $V --json $OUT/gpu_check.json;
  python3 scripts/train_zoo.py --content gpu_lease/content --styles gpu_lease/styles --vgg-weights $V --out /tmp/zoo --minutes 6 &&
  tar cf - -C /tmp/zoo . | split -b 15m - $OUT/zoo.tar.
back here: cat zoo.tar.* | tar xf - -C train/runs/zoo_gpu/   (then scripts/ship_style.py per network)
CMD
