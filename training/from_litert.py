"""Trainable Keras weights back from a LiteRT file: `python -m training.from_litert FILE.tflite --member N
--data PATH --output NAME.keras`.

Some shipped networks exist only as the LiteRT file the app runs: the round-2 photos ensemble's four
width-64 members were trained on a GPU machine that kept nothing else. Their weights are still in that
file, quantised to int8 with each batch norm folded into the layer before it. This rebuilds one member
as an ordinary `build_model` network that `python -m training.train --init` can fine-tune.

Each layer's kernel and bias are read back (int8 weights times their per-channel scales; the first
kernel times 255, since the Keras network scales its pixels itself). The bias goes into the batch norm
that follows, whose statistics are measured on training faces and whose scale undoes them: the layer
then gives the same output as the file whether the batch norm uses its stored statistics (inference) or
a batch's (fine-tuning), so training starts where the file was. Probabilities are compared with the
file's own on those faces before the model is saved.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np

from fer.model_file import ModelFileError, ModelInfo, read_model_info
from fer.runtime import inspecting_interpreter
from training.data import TRAIN, load_dataset_for
from training.model import build_model
from training.report import save_with_info

STATISTICS_FACES = 4096  # enough for each channel's mean and variance to settle
CHECK_FACES = 512


@dataclass
class Member:
    """One network inside a LiteRT file, as (kernel, bias) pairs in Keras layout, plus its output tensor."""

    convs: list[tuple[np.ndarray, np.ndarray]]
    blocks: int
    dense: list[tuple[np.ndarray, np.ndarray]]
    probabilities_tensor: int


def constant(interpreter, index: int) -> np.ndarray:
    """A weight tensor as float32: int8 values times their per-channel scales."""
    detail = interpreter.get_tensor_details()[index]
    values = interpreter.get_tensor(index)
    if values.dtype != np.int8:
        return values.astype(np.float32)
    quant = detail["quantization_parameters"]
    shape = [1] * values.ndim
    shape[quant["quantized_dimension"]] = -1
    scales = quant["scales"].reshape(shape)
    zero_points = quant["zero_points"].reshape(shape)
    return ((values.astype(np.float32) - zero_points) * scales).astype(np.float32)


def members_in(interpreter) -> list[Member]:
    """Walk the graph: each member starts with a convolution of the file's input."""
    graph_input = interpreter.get_input_details()[0]["index"]
    members: list[Member] = []
    for op in interpreter._get_ops_details():
        kind, inputs = op["op_name"], [int(i) for i in op["inputs"]]
        if kind == "CONV_2D" and inputs[0] == graph_input:
            members.append(Member(convs=[], blocks=0, dense=[], probabilities_tensor=-1))
        if not members:
            continue
        member = members[-1]
        if kind == "CONV_2D":  # OHWI -> HWIO
            kernel = constant(interpreter, inputs[1]).transpose(1, 2, 3, 0)
            member.convs.append((kernel, constant(interpreter, inputs[2])))
        elif kind == "MAX_POOL_2D":
            member.blocks += 1
        elif kind == "FULLY_CONNECTED":  # (out, in) -> (in, out)
            member.dense.append((constant(interpreter, inputs[1]).T, constant(interpreter, inputs[2])))
        elif kind == "SOFTMAX":
            member.probabilities_tensor = int(op["outputs"][0])
    if not members or any(len(m.dense) != 2 or not m.blocks or m.probabilities_tensor < 0 for m in members):
        raise ModelFileError("this LiteRT file was not written from training.model networks (conv blocks, then "
                             "two dense layers and a softmax)")
    return members


def rebuilt(member: Member, info: ModelInfo, faces: np.ndarray) -> keras.Model:
    """A `build_model` network computing what `member` computes, with batch norms fitted to `faces`."""
    width = member.convs[0][0].shape[-1]
    (fc_kernel, fc_bias), (out_kernel, out_bias) = member.dense
    model = build_model((*info.image_size, info.channels), len(info.class_names), width=width,
                        blocks=member.blocks, convs_per_block=len(member.convs) // member.blocks,
                        dense_units=fc_kernel.shape[1], name=info.name)
    conv_layers = [layer for layer in model.layers if "_conv" in layer.name]
    pairs = [(conv, model.get_layer(conv.name.replace("conv", "bn"))) for conv in conv_layers]
    pairs.append((model.get_layer("fc"), model.get_layer("fc_bn")))
    weights = [*member.convs, (fc_kernel, fc_bias)]
    weights[0] = (weights[0][0] * 255.0, weights[0][1])  # the file's first kernel includes the 1/255 scaling
    for (layer, norm), (kernel, bias) in zip(pairs, weights, strict=True):
        layer.set_weights([kernel])
        ones, zeros = np.ones_like(bias), np.zeros_like(bias)
        norm.set_weights([ones, bias, zeros, ones - norm.epsilon])  # y + bias, exactly
    model.get_layer("probabilities").set_weights([out_kernel, out_bias])

    # Same output, now with statistics a training batch will also see.
    probe = keras.Model(model.input, [layer.output for layer, _ in pairs])
    sums = [np.zeros(len(bias)) for _, bias in weights]
    squares = [np.zeros(len(bias)) for _, bias in weights]
    rows = [0] * len(weights)
    for start in range(0, len(faces), 256):  # a batch at a time: all faces at once would be gigabytes
        for index, values in enumerate(probe(faces[start:start + 256], training=False)):
            values = keras.ops.convert_to_numpy(values).astype(np.float64).reshape(-1, len(sums[index]))
            sums[index] += values.sum(axis=0)
            squares[index] += (values**2).sum(axis=0)
            rows[index] += len(values)
    for (_, norm), (_, bias), total, square, count in zip(pairs, weights, sums, squares, rows, strict=True):
        mean = total / count
        variance = np.maximum(square / count - mean**2, 0.0)
        norm.set_weights([np.sqrt(variance + norm.epsilon), mean + bias, mean, variance])
    return model


def litert_probabilities(interpreter, member: Member, faces: np.ndarray) -> np.ndarray:
    """What the file says for each face, member by member, one face per call (its batch size is 1)."""
    detail = interpreter.get_input_details()[0]
    rows = []
    for face in faces:
        interpreter.set_tensor(detail["index"], face[None].astype(np.float32))
        interpreter.invoke()
        rows.append(interpreter.get_tensor(member.probabilities_tensor)[0].copy())
    return np.array(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.from_litert", description=__doc__.splitlines()[0])
    parser.add_argument("model", help="a .tflite file written by training.export_litert")
    parser.add_argument("--member", type=int, default=0, help="which network of an ensemble file (0, 1, ...)")
    parser.add_argument("--data", required=True, help="the training data, for the batch-norm statistics")
    parser.add_argument("--output", required=True, help="where the .keras goes")
    parser.add_argument("--name", help="model name (default: the output file's stem)")
    args = parser.parse_args(argv)
    output = Path(args.output)
    try:
        source_info = read_model_info(Path(args.model))
        interpreter = inspecting_interpreter(Path(args.model))
        members = members_in(interpreter)
        if not 0 <= args.member < len(members):
            raise ModelFileError(f"{args.model} holds {len(members)} network(s); --member must be 0 to "
                                 f"{len(members) - 1}")
        train = load_dataset_for(source_info, args.data).splits[TRAIN]
    except (ModelFileError, OSError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    faces = train.images[np.random.default_rng(0).permutation(len(train.images))[:STATISTICS_FACES]]
    info = ModelInfo(args.name or output.stem, source_info.class_names, source_info.image_size,
                     source_info.channels)
    member = members[args.member]
    model = rebuilt(member, info, faces)
    check = faces[:CHECK_FACES]
    expected = litert_probabilities(interpreter, member, check)
    got = model.predict(check, batch_size=256, verbose=0)
    same = int((expected.argmax(axis=1) == got.argmax(axis=1)).sum())
    difference = float(np.abs(expected - got).max())
    print(f"member {args.member} of {len(members)}: {same} of {len(check)} predictions as in the file, largest "
          f"probability difference {difference:.1e}")
    if same < 0.99 * len(check):
        print("error: the rebuilt network does not reproduce the file; nothing written", file=sys.stderr)
        return 1
    output.parent.mkdir(parents=True, exist_ok=True)
    save_with_info(model, info, output)
    print(f"wrote {output}: width {member.convs[0][0].shape[-1]}, {model.count_params():,} parameters")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
