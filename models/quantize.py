"""int8 post-training quantization of a style network's ONNX export, calibrated on photos.

ONNX Runtime's own tool (onnxruntime.quantization, part of the onnxruntime wheel: no extra package) writes
a QDQ model: int8 weights per output channel, uint8 activations whose ranges come from running the float
model on the calibration photos. Both CPU backends run that file: ONNX Runtime with its int8 kernels and
OpenVINO, which reads the QuantizeLinear/DequantizeLinear pairs as int8 layers. Calibrate on pictures like
the ones to be stylised (a few webcam frames or photos; 16 are used): the ranges decide the rounding.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from torch import nn

from stylecam.pipeline.images import IMAGE_SUFFIXES, read_rgb

CALIBRATION_PHOTOS = 16
CALIBRATION_SIDE = 256  # short side: the scale the networks are trained and evaluated at
RECIPE = "qdq-percentile-99.99-reduce-range-skips-in-float"  # what quantize_onnx does; part of the cache key


class CalibrationError(ValueError):
    """No usable calibration photos; the message is fit for users."""


def calibration_photos(folder: str | os.PathLike, count: int = CALIBRATION_PHOTOS) -> list[Path]:
    """Up to `count` images of `folder`, spread evenly over its sorted names (the same ones every time)."""
    root = Path(folder)
    if not root.is_dir():
        raise CalibrationError(f"calibration folder not found: {root}")
    photos = sorted(p for p in root.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not photos:
        raise CalibrationError(f"no images in the calibration folder {root}")
    step = max(1, len(photos) // count)
    return photos[::step][:count]


def calibration_inputs(photos: list[Path], side: int = CALIBRATION_SIDE) -> list[np.ndarray]:
    """Each photo as the network's input: 1x3xSxS float32 RGB in [0, 1], the centre square after scaling the
    short side to `side` (one shape for all: the percentile calibrator stacks them)."""
    import cv2

    inputs = []
    for path in photos:
        rgb = read_rgb(path)
        if rgb is None:
            continue  # not a readable image: the others calibrate
        h, w = rgb.shape[:2]
        scale = side / min(h, w)
        rgb = cv2.resize(rgb, (max(side, round(w * scale)), max(side, round(h * scale))), interpolation=cv2.INTER_AREA)
        top, left = (rgb.shape[0] - side) // 2, (rgb.shape[1] - side) // 2
        square = rgb[top:top + side, left:left + side]
        inputs.append(np.ascontiguousarray(square.transpose(2, 0, 1)[None], dtype=np.float32) / 255.0)
    if not inputs:
        raise CalibrationError(f"none of the calibration images could be read ({photos[0].parent})")
    return inputs


def quantize_onnx(model: bytes, inputs: list[np.ndarray]) -> bytes:
    """The QDQ int8 version of an exported model (input "input"), its activation ranges from `inputs`."""
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                          quantize_static)

    class Photos(CalibrationDataReader):
        def __init__(self) -> None:
            self.pending = iter(inputs)

        def get_next(self) -> dict | None:
            x = next(self.pending, None)
            return None if x is None else {"input": x}

    with tempfile.TemporaryDirectory(prefix="stylecam-int8-") as tmp, _quiet_quantizer():
        source, target = Path(tmp) / "float.onnx", Path(tmp) / "int8.onnx"
        source.write_bytes(model)
        # Percentile ranges ignore the rare extreme activation that MinMax would spend the 256 levels on.
        # reduce_range (7-bit weights): CPUs without VNNI (AVX2 only, e.g. AMD family 23) multiply u8 by s8
        # in 16-bit pairs that can saturate at 8 bits; it moved the output by 0.02/255 on average here.
        quantize_static(str(source), str(target), Photos(), quant_format=QuantFormat.QDQ, per_channel=True,
                        reduce_range=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        calibrate_method=CalibrationMethod.Percentile, nodes_to_exclude=_skip_nodes(model),
                        extra_options={"CalibPercentile": 99.99}, calibration_cache_path=None)
        return target.read_bytes()


def _skip_nodes(model: bytes) -> list[str]:
    """fast_net's skips (models/fast_net.py): the Mul by a learnt per-channel scale and the Add into the
    decoder. They stay in float: quantized, they moved OpenVINO's int8 output 10.5/255 on average from the float
    network's (starry_night-fast, tests/test_bench_export.py's frames; 2.6/255 with them in float, as ONNX
    Runtime's), and they are two elementwise ops, nothing to speed up."""
    import onnx

    graph = onnx.load_from_string(model).graph
    scales = {i.name for i in graph.initializer if i.name.rsplit(".", 1)[-1].startswith("skip")}
    muls = [n for n in graph.node if n.op_type == "Mul" and scales.intersection(n.input)]
    outputs = {o for n in muls for o in n.output}
    return [n.name for n in muls] + [n.name for n in graph.node if n.op_type == "Add" and outputs.intersection(n.input)]


@contextlib.contextmanager
def _quiet_quantizer() -> Iterator[None]:
    """The quantizer warns through the root logger and ONNX Runtime's own about things that do not apply
    here (instance-norm weights have no channel axis to quantize) and prints its progress; users would read
    that as faults, and stdout may be a pipe of frames."""
    import onnxruntime as ort

    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    ort.set_default_logger_severity(3)  # errors only
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # the calibrator prints its histogram settings
            yield
    finally:
        logging.disable(previous)
        ort.set_default_logger_severity(2)  # ONNX Runtime's default: warnings


def int8_onnx_bytes(net: nn.Module, calibration: str | os.PathLike) -> bytes:
    """The network's int8 export calibrated on the folder's photos, cached on disk by a hash of the weights
    and of the photos used (calibrating takes a few seconds)."""
    from stylecam.models.export import cached_model, onnx_bytes

    photos = calibration_photos(calibration)
    model = onnx_bytes(net)
    digest = hashlib.sha256(model)
    digest.update(RECIPE.encode())  # a changed recipe must not find the files the old one cached
    for path in photos:
        digest.update(path.read_bytes())
    return cached_model(f"{digest.hexdigest()[:24]}-int8.onnx", lambda: quantize_onnx(model, calibration_inputs(photos)))
