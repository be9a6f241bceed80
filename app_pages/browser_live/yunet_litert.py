"""YuNet for LiteRT: the project's face detector (fer/weights/yunet_s_640_640.onnx) rebuilt in Keras from
its ONNX graph, so that the browser runs both networks in one WebAssembly runtime (LiteRT.js).

The ONNX graph is small and plain (convolutions, depthwise convolutions, ReLU, 2x2 max pooling, nearest
upsampling, additions, sigmoids), so each node maps to one Keras layer with the same weights. The
converted network gives one output, (1, anchors, 16): for each anchor at strides 8, 16 and 32 in turn
(rows, then columns), cls, obj, 4 box values and 10 landmark values, exactly what the ONNX file's twelve
outputs hold, so the browser decodes it as cv2.FaceDetectorYN decodes those.

LiteRT.js runs fixed shapes only, so each input size the engine detects at has its own small file
(`yunet_WxH.tflite`). Needs TensorFlow and onnx (requirements-dev.txt).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

# The input sizes (width, height) the browser's detector has files for: a webcam's 4:3 and 16:9 frames at
# the default detection size (fer.settings: 320 px; 416 px for 1280x720, 640 px for 1920x1080), landscape
# and portrait, and a 640 px square that holds every other frame (yunet.js detectionPlan pads into it).
CANVASES = ((320, 256), (256, 320), (320, 192), (192, 320), (416, 256), (256, 416), (640, 352), (352, 640),
            (640, 640))
STRIDES = (8, 16, 32)
HEADS = ("cls", "obj", "bbox", "kps")


def keras_yunet(onnx_path: Path):
    """A Keras model with YuNet's weights that takes (1, H, W, 3) BGR 0-255 (H, W multiples of 32) and
    returns (1, anchors, 16)."""
    import keras
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(onnx_path)).graph
    weights = {tensor.name: numpy_helper.to_array(tensor) for tensor in graph.initializer}
    image = keras.Input((None, None, 3), name="image")
    values = {graph.input[0].name: image}
    for node in graph.node:
        attributes = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        source = values.get(node.input[0])
        if node.op_type == "Conv":
            values[node.output[0]] = convolution(source, weights[node.input[1]], weights[node.input[2]], attributes)
        elif node.op_type == "Relu":
            values[node.output[0]] = keras.layers.ReLU()(source)
        elif node.op_type == "MaxPool":
            assert attributes["kernel_shape"] == [2, 2] and attributes["strides"] == [2, 2], attributes
            values[node.output[0]] = keras.layers.MaxPooling2D(2)(source)
        elif node.op_type == "Resize":
            assert attributes["mode"] == b"nearest", attributes
            values[node.output[0]] = keras.layers.UpSampling2D(2, interpolation="nearest")(source)
        elif node.op_type == "Add":
            values[node.output[0]] = keras.layers.Add()([source, values[node.input[1]]])
        elif node.op_type == "Transpose":
            assert attributes["perm"] == [0, 2, 3, 1], attributes  # NCHW to NHWC: Keras is NHWC already
            values[node.output[0]] = source
        elif node.op_type == "Reshape":
            channels = weights[node.input[1]][-1]
            values[node.output[0]] = keras.layers.Reshape((-1, int(channels)))(source)
        elif node.op_type == "Sigmoid":
            values[node.output[0]] = keras.layers.Activation("sigmoid")(source)
        else:
            raise ValueError(f"YuNet has an operation this builder does not know: {node.op_type}")
    per_stride = [keras.layers.Concatenate(axis=-1)([values[f"{head}_{stride}"] for head in HEADS])
                  for stride in STRIDES]
    output = keras.layers.Concatenate(axis=1, name="anchors")(per_stride)
    return keras.Model(image, output, name="yunet")


def convolution(source, kernel: np.ndarray, bias: np.ndarray, attributes: dict):
    """One ONNX Conv as a Keras layer: grouped by channel -> depthwise; ONNX pads explicitly (1 on each
    side for 3x3), which Keras's 'same' does not do for stride 2, so the padding is its own layer."""
    import keras

    out_channels, _, kh, kw = kernel.shape
    stride = attributes["strides"][0]
    pad = attributes["pads"][0]
    assert set(attributes["pads"]) == {pad} and attributes["strides"] == [stride, stride], attributes
    if pad:
        source = keras.layers.ZeroPadding2D(pad)(source)
    if attributes["group"] == 1:
        layer = keras.layers.Conv2D(out_channels, (kh, kw), strides=stride, padding="valid")
        output = layer(source)
        layer.set_weights([kernel.transpose(2, 3, 1, 0), bias])
    else:
        assert attributes["group"] == out_channels == kernel.shape[0] and kernel.shape[1] == 1, attributes
        layer = keras.layers.DepthwiseConv2D((kh, kw), strides=stride, padding="valid")
        output = layer(source)
        layer.set_weights([kernel.transpose(2, 3, 0, 1), bias])
    return output


def litert_name(width: int, height: int) -> str:
    """The browser's file for one input size, under the engine's folder (the engine is told these names)."""
    return f"detector/yunet_{width}x{height}.tflite"


def write_detector_files(onnx_path: Path, static: Path) -> None:
    """Every size in CANVASES, under `static` (the engine's folder)."""
    model = keras_yunet(onnx_path)
    for width, height in CANVASES:
        write_litert(model, width, height, static / litert_name(width, height))


def write_litert(model, width: int, height: int, output: Path) -> None:
    """`model` (keras_yunet) as a float32 .tflite file whose input is fixed at (1, height, width, 3)."""
    import tensorflow as tf

    output.parent.mkdir(parents=True, exist_ok=True)
    model.export(str(output), format="litert", verbose=False,
                 input_signature=[tf.TensorSpec((1, height, width, 3), tf.float32)])
