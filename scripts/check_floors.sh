#!/usr/bin/env bash
# Runs the test suite against the lowest versions setup.cfg allows (its `>=` floors installed as `==`),
# except torch and torchvision, which come from .venv (their CUDA wheels are gigabytes).
#
#   scripts/check_floors.sh [WORKDIR]      # default /var/tmp/stylecam-floors; needs `make install` first
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-/var/tmp/stylecam-floors}
dev_site=$("$here/.venv/bin/python" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
rm -rf "$work" && python3 -m venv "$work/venv"
site=$("$work/venv/bin/python" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
echo "$dev_site" > "$site/zz_torch_from_dev_venv.pth"   # after the floors on sys.path: they win
floors=$(sed -n '/^install_requires =/,/^$/p' "$here/setup.cfg" | grep '>=' | grep -v -E '^\s*torch' | sed -E 's/^\s*//; s/>=/==/')
"$work/venv/bin/pip" install -q $floors "pytest==7.0.0" "setuptools>=61" wheel
# editable: the tests read the repository's zoo, -plain twins included (the wheel leaves those out)
"$work/venv/bin/pip" install -q --no-deps --no-build-isolation -e "$here"
"$work/venv/bin/pip" list 2>/dev/null | grep -i -E "^(av|numpy|opencv-python|onnx|onnxruntime|click|PyYAML|tqdm|safetensors|h5py|matplotlib|pyvirtualcam|torch|torchvision) "
cd "$here" && "$work/venv/bin/python" -m pytest -q -p no:cacheprovider --deselect tests/test_vcam.py --ignore tests/test_packaging.py
