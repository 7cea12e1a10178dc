"""Runs inside the vcam VM (a real v4l2loopback module). First the webcam source reads a real V4L2
capture device fed by pyvirtualcam. Then `stylecam live` on the test source sends
through pyvirtualcam into /dev/video1; an independent process reads the device back with OpenCV's
V4L2 capture; the frames read must match frames stylecam sent (which it also records losslessly).

Not a pytest module (pytest would import torch a second time, ~2 minutes under emulation);
tests/test_vcam.py starts it in the VM. Exit 0 = pass.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DEVICE = os.environ.get("VCAM_DEVICE", "/dev/video1")  # exclusive_caps=0: may be reopened
W, H, FPS, READS = 160, 120, 10, 6

READER = r"""
import sys, time, cv2
dev, out, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
deadline = time.time() + 400          # stylecam imports torch first: minutes under emulation
cap = None
while time.time() < deadline:
    cap = cv2.VideoCapture(dev, cv2.CAP_V4L2)
    if cap.isOpened():
        ok, frame = cap.read()
        if ok:
            break
    cap.release(); time.sleep(0.5)
else:
    print("reader: never got a frame from", dev); sys.exit(2)
for i in range(n):
    time.sleep(0.7)
    for _ in range(3):                # drop what the driver buffered: we want a current frame
        ok, frame = cap.read()
    cv2.imwrite(f"{out}/read_{i:02d}.png", frame)
print("reader: read", n, "frames of", frame.shape)
"""


def check_webcam_source() -> int:
    """The webcam source on a real V4L2 capture device (no torch needed: fast under emulation):
    a pyvirtualcam writer feeds /dev/video2 with colour bars; WebcamSource must read them back."""
    import threading

    import pyvirtualcam

    sys.path.insert(0, str(ROOT))
    from stylecam.pipeline.stage import Context, StageError
    from stylecam.stages.webcam import WebcamSource

    bars = np.zeros((H, W, 3), np.uint8)
    for k, colour in enumerate([(255, 255, 255), (255, 255, 0), (0, 255, 255), (0, 255, 0), (255, 0, 255), (255, 0, 0), (0, 0, 255), (0, 0, 0)]):
        bars[:, k * W // 8:(k + 1) * W // 8] = colour
    failures = 0
    stop = threading.Event()
    with pyvirtualcam.Camera(W, H, FPS, device="/dev/video2", fmt=pyvirtualcam.PixelFormat.RGB) as cam:
        def feed():
            while not stop.is_set():
                cam.send(bars)
                cam.sleep_until_next_frame()

        feeder = threading.Thread(target=feed, daemon=True)
        feeder.start()
        time.sleep(0.5)
        source = WebcamSource("/dev/video2", W, H, FPS)
        ctx = Context()
        try:
            source.open(ctx)
            frames = []
            for frame in source.frames():
                frames.append(frame)
                if len(frames) == 5:
                    break
        finally:
            source.close()
            stop.set()
            feeder.join(2)
    mean = float(np.mean([np.abs(f.data.astype(int) - bars).mean() for f in frames]))
    pts = [f.pts for f in frames]
    ok = ctx.live and frames[0].data.shape == (H, W, 3) and mean < 6 and pts == sorted(pts) and len(set(pts)) == 5
    failures += not ok
    print(f"{'PASS' if ok else 'FAIL'} webcam source read {len(frames)} frames from /dev/video2: mean|d|={mean:.2f}, pts {pts}")
    # A capture device nobody writes to: opened, but no frames (what a camera held by another program looks like).
    try:
        WebcamSource("/dev/video0", W, H, FPS).open(Context())  # exclusive_caps=1 and no writer
        print("FAIL webcam source opened a device that sends nothing")
        failures += 1
    except StageError as exc:
        ok = "sends no frames" in str(exc) or "no webcam" in str(exc)
        failures += not ok
        print(f"{'PASS' if ok else 'FAIL'} silent device: {exc}")
    return failures


def main() -> int:
    webcam_failures = check_webcam_source()
    if os.environ.get("VCAM_ONLY_WEBCAM"):
        return webcam_failures
    work = Path(os.environ.get("VCAM_OUT") or tempfile.mkdtemp())
    sent, read = work / "sent", work / "read"
    for d in (sent, read):
        d.mkdir(parents=True, exist_ok=True)
        for old in d.glob("*.png"):
            old.unlink()
    live = subprocess.Popen(
        [sys.executable, "-m", "stylecam.pipeline.app.cli", "live", "--source", "testsrc", "--vcam", DEVICE, "--size", f"{W}x{H}",
         "--fps", str(FPS), "--style", "random", "--image-size", "32", "--strength", "0.5", "--duration", "900", "--record", str(sent)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    reader = subprocess.run([sys.executable, "-c", READER, DEVICE, str(read), str(READS)], capture_output=True, text=True)
    print(reader.stdout.strip(), reader.stderr.strip()[-500:])
    live.send_signal(signal.SIGINT)  # end of stream: the recording is finished cleanly
    out, _ = live.communicate(timeout=120)
    print(out[-1500:])
    if reader.returncode != 0 or live.returncode not in (0, 130):
        print(f"FAIL reader rc={reader.returncode} live rc={live.returncode}")
        return 1

    sent_frames = [cv2.imread(str(p)).astype(np.int16) for p in sorted(sent.glob("*.png"))]
    failures = webcam_failures
    for path in sorted(read.glob("*.png")):
        got = cv2.imread(str(path)).astype(np.int16)
        if got.shape != (H, W, 3):
            print(f"FAIL {path.name}: shape {got.shape}, expected {(H, W, 3)}")
            failures += 1
            continue
        diffs = [np.abs(got - s).mean() for s in sent_frames]
        best = int(np.argmin(diffs))
        # Sanity of the comparator: a frame far from the best match must differ clearly.
        far = diffs[(best + len(diffs) // 2) % len(diffs)]
        ok = diffs[best] < 6.0 and far > 2 * diffs[best] + 3
        failures += not ok
        print(f"{'PASS' if ok else 'FAIL'} {path.name}: best match sent frame {best} mean|d|={diffs[best]:.2f}, "
              f"a far frame {far:.2f} ({len(sent_frames)} sent)")
    n_read = len(list(read.glob("*.png")))
    if n_read < READS:
        print(f"FAIL only {n_read} frames read")
        failures += 1
    print(f"vcam: {n_read} frames read back, {failures} problems")
    return 1 if failures else 0


if __name__ == "__main__":
    t0 = time.time()
    rc = main()
    print(f"vcam guest test took {time.time() - t0:.0f} s")
    sys.exit(rc)
