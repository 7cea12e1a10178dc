#!/usr/bin/env bash
# Runs a command inside a throw-away QEMU guest that has a real v4l2loopback kernel module
# (../shared/vcam-vm: this machine's kernel cannot load modules). Sets the harness up once.
#
#   scripts/vcam_vm.sh 'cd /path/to/stylecam && .venv/bin/python tests/vcam_guest.py'
#
# Exit codes: the guest command's; 77 = the VM cannot be set up here (reason on stderr);
# 125 = the VM died or timed out.
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
harness=${VCAM_HARNESS:-$here/../shared/vcam-vm/run_vcam_vm_test.sh}
export VCAM_WORK=${VCAM_WORK:-/var/tmp/stylecam-vcam}   # no spaces, not under /tmp (the guest hides /tmp)
skip() { echo "SKIP: $*" >&2; exit 77; }

[ -f "$harness" ] || skip "the vcam-vm harness is not at $harness"
[ "$(uname -s)" = Linux ] || skip "needs Linux"
[ "$(id -u)" = 0 ] || command -v sudo >/dev/null || skip "setting up the VM needs root (apt-get)"
mkdir -p "$VCAM_WORK" || skip "cannot create $VCAM_WORK"
if [ ! -f "$VCAM_WORK/vmkernel/vmlinuz" ] || ! command -v qemu-system-x86_64 >/dev/null; then
  echo "setting up the vcam VM in $VCAM_WORK (about a minute, once per machine)" >&2
  VCAM_MAKE_VENV=0 bash "$harness" setup >"$VCAM_WORK/setup.log" 2>&1 || skip "VM setup failed: $(tail -n 3 "$VCAM_WORK/setup.log" | tr '\n' ' ')"
  bash "$harness" build >"$VCAM_WORK/build.log" 2>&1 || skip "module build failed: $(tail -n 3 "$VCAM_WORK/build.log" | tr '\n' ' ')"
fi
VCAM_GUEST_CMD="$1" VCAM_VM_TIMEOUT=${VCAM_VM_TIMEOUT:-900} bash "$harness" run
