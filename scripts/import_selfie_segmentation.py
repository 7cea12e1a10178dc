"""Convert MediaPipe's selfie-segmentation model (Apache 2.0) to the ONNX file stylecam ships.

    .venv/bin/python scripts/import_selfie_segmentation.py [MEDIAPIPE_WHEEL]

The model comes inside the `mediapipe` 0.10.21 wheel on PyPI (later 0.10.x wheels carry no models), as
`mediapipe/modules/selfie_segmentation/selfie_segmentation_landscape.tflite` (144x256 RGB in [0, 1] ->
144x256 person probability). Neither ONNX Runtime nor OpenVINO reads it (OpenVINO's TFLite reader lacks
MediaPipe's custom op Convolution2DTransposeBias), and the mediapipe package itself needs
opencv-contrib-python, which clashes with opencv-python. So its graph is read here (the `tflite` flatbuffer
schema package, needed by this script only), rebuilt op by op in PyTorch and exported to ONNX:
models/segmentation/selfie_segmentation.onnx, beside its licence and card.
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

ROOT = Path(__file__).resolve().parent.parent
MEMBER = "mediapipe/modules/selfie_segmentation/selfie_segmentation_landscape.tflite"
OUT = ROOT / "models" / "segmentation" / "selfie_segmentation.onnx"
VERSION = "0.10.21"


def tflite_bytes(wheel: Path | None) -> bytes:
    if wheel is None:
        tmp = Path(tempfile.mkdtemp())
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(tmp),
                        f"mediapipe=={VERSION}"], check=True)
        wheel = next(tmp.glob("mediapipe-*.whl"))
    with zipfile.ZipFile(wheel) as z:
        return z.read(MEMBER)


def same_pad(x: torch.Tensor, k: tuple[int, int], s: tuple[int, int]) -> torch.Tensor:
    """TensorFlow's SAME padding: the extra pixel, if any, goes after."""
    pads = []
    for size, kk, ss in ((x.shape[3], k[1], s[1]), (x.shape[2], k[0], s[0])):
        total = max((-(-size // ss) - 1) * ss + kk - size, 0)
        pads += [total // 2, total - total // 2]
    return F.pad(x, pads)


class TfliteGraph(nn.Module):
    """The TFLite graph as a sequence of torch ops on NCHW tensors (constants converted from NHWC once)."""

    def __init__(self, data: bytes) -> None:
        import tflite

        super().__init__()
        model = tflite.Model.GetRootAsModel(data, 0)
        graph = model.Subgraphs(0)
        names = {v: k for k, v in tflite.BuiltinOperator.__dict__.items() if not k.startswith("_")}
        self.input, self.output = int(graph.Inputs(0)), int(graph.Outputs(0))
        consts: dict[int, np.ndarray] = {}
        for i in range(graph.TensorsLength()):
            t = graph.Tensors(i)
            buf = model.Buffers(t.Buffer()).DataAsNumpy()
            if isinstance(buf, np.ndarray) and buf.size:
                dtype = {0: np.float32, 1: np.float16, 2: np.int32}[t.Type()]
                consts[i] = np.frombuffer(buf.tobytes(), dtype=dtype).reshape(t.ShapeAsNumpy())
        self.ops: list[tuple] = []
        self.params = nn.ParameterList()
        const_index: dict[int, int] = {}

        def param(i: int, layout: str = "") -> int:
            """A constant as a parameter, in the layout torch wants: "conv" [O,H,W,I] -> [O,I,H,W],
            "dw" [1,H,W,O] -> [O,1,H,W], "tconv" [O,H,W,I] -> [I,O,H,W], "nchw" broadcastable NHWC -> NCHW."""
            a = torch.from_numpy(consts[i].astype(np.float32))
            if layout == "conv":
                a = a.permute(0, 3, 1, 2)
            elif layout == "dw":
                a = a.permute(3, 0, 1, 2)
            elif layout == "tconv":
                a = a.permute(3, 0, 1, 2)
            elif layout == "nchw":
                a = a.reshape(1, -1, 1, 1) if a.dim() == 1 else a.permute(0, 3, 1, 2) if a.dim() == 4 else a
            self.params.append(nn.Parameter(a.contiguous(), requires_grad=False))
            return len(self.params) - 1

        for n in range(graph.OperatorsLength()):
            op = graph.Operators(n)
            code = model.OperatorCodes(op.OpcodeIndex())
            kind = names.get(max(code.BuiltinCode(), code.DeprecatedBuiltinCode()))
            ins, outs = op.InputsAsNumpy().tolist(), op.OutputsAsNumpy().tolist()
            opts = op.BuiltinOptions()
            if kind == "DEQUANTIZE":  # float16 weights: the constant is its own output from here on
                consts[outs[0]] = consts[ins[0]].astype(np.float32)
                continue
            if kind in ("CONV_2D", "DEPTHWISE_CONV_2D"):
                o = (tflite.Conv2DOptions if kind == "CONV_2D" else tflite.DepthwiseConv2DOptions)()
                o.Init(opts.Bytes, opts.Pos)
                w = param(ins[1], "conv" if kind == "CONV_2D" else "dw")
                b = param(ins[2])
                kh, kw = consts[ins[1]].shape[1:3]
                self.ops.append((kind, ins[0], outs[0], w, b, (kh, kw), (o.StrideH(), o.StrideW()), o.Padding(),
                                 o.FusedActivationFunction()))
            elif kind in ("ADD", "MUL"):
                o = (tflite.AddOptions if kind == "ADD" else tflite.MulOptions)()
                o.Init(opts.Bytes, opts.Pos)
                operands = [("p", param(i, "nchw")) if i in consts else ("t", i) for i in ins]
                self.ops.append((kind, operands, outs[0], o.FusedActivationFunction()))
            elif kind == "MEAN":  # over H and W (NHWC axes 1, 2), kept
                self.ops.append((kind, ins[0], outs[0]))
            elif kind == "RESIZE_BILINEAR":
                o = tflite.ResizeBilinearOptions()
                o.Init(opts.Bytes, opts.Pos)
                assert o.HalfPixelCenters() and not o.AlignCorners()  # = torch's align_corners=False
                self.ops.append((kind, ins[0], outs[0], tuple(int(v) for v in consts[ins[1]])))
            elif kind in ("RELU", "HARD_SWISH", "LOGISTIC"):
                self.ops.append((kind, ins[0], outs[0]))
            elif kind == "CUSTOM" and code.CustomCode() == b"Convolution2DTransposeBias":
                padding, stride_w, stride_h = np.frombuffer(op.CustomOptionsAsNumpy().tobytes(), dtype=np.int32)
                assert padding == 1 and consts[ins[1]].shape[1:3] == (stride_h, stride_w)  # SAME, kernel = stride
                self.ops.append(("TCONV", ins[0], outs[0], param(ins[1], "tconv"), param(ins[2]), (int(stride_h), int(stride_w))))
            else:
                raise ValueError(f"op {kind} is not translated")

    @staticmethod
    def _act(x: torch.Tensor, fused: int) -> torch.Tensor:
        return {0: x, 1: F.relu(x) if fused == 1 else x, 3: torch.clamp(x, 0, 6)}[fused if fused in (0, 1, 3) else 0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: N x 3 x 144 x 256 RGB in [0, 1] -> N x 1 x 144 x 256 person probability."""
        t = {self.input: x}
        for op in self.ops:
            kind = op[0]
            if kind in ("CONV_2D", "DEPTHWISE_CONV_2D"):
                _, i, o, w, b, k, s, padding, fused = op
                src = t[i]
                src = same_pad(src, k, s) if padding == 0 else src  # tflite Padding: SAME = 0, VALID = 1
                groups = src.shape[1] if kind == "DEPTHWISE_CONV_2D" else 1
                t[o] = self._act(F.conv2d(src, self.params[w], self.params[b], stride=s, groups=groups), fused)
            elif kind in ("ADD", "MUL"):
                _, operands, o, fused = op
                a, b = (self.params[v] if tag == "p" else t[v] for tag, v in operands)
                t[o] = self._act(a + b if kind == "ADD" else a * b, fused)
            elif kind == "MEAN":
                t[op[2]] = t[op[1]].mean(dim=(2, 3), keepdim=True)
            elif kind == "RESIZE_BILINEAR":
                t[op[2]] = F.interpolate(t[op[1]], size=op[3], mode="bilinear", align_corners=False)
            elif kind == "RELU":
                t[op[2]] = F.relu(t[op[1]])
            elif kind == "HARD_SWISH":
                t[op[2]] = F.hardswish(t[op[1]])
            elif kind == "LOGISTIC":
                t[op[2]] = torch.sigmoid(t[op[1]])
            elif kind == "TCONV":
                _, i, o, w, b, s = op
                t[o] = F.conv_transpose2d(t[i], self.params[w], self.params[b], stride=s)
        return t[self.output]


def main() -> None:
    wheel = Path(sys.argv[1]) if len(sys.argv) > 1 else None
    net = TfliteGraph(tflite_bytes(wheel)).eval()
    x = torch.rand(1, 3, 144, 256)
    with torch.no_grad():
        y = net(x)
    assert y.shape == (1, 1, 144, 256), y.shape
    OUT.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(net, (x,), str(OUT), dynamo=False, opset_version=17, input_names=["input"], output_names=["mask"],
                      dynamic_axes={"input": {0: "batch"}, "mask": {0: "batch"}})
    print(f"wrote {OUT} ({OUT.stat().st_size / 1e3:.0f} kB); output range on noise {float(y.min()):.3f}..{float(y.max()):.3f}")


if __name__ == "__main__":
    main()
