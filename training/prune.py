"""Make a trained CNN narrower: `python -m training.prune MODEL.keras --width 48 --output PATH.keras`.

A narrow network trained from scratch needs as many epochs as a wide one (hours on a CPU); a wide
network that is already trained knows which of its channels matter. This keeps, in every layer, the
channels that matter most and drops the rest, giving an ordinary `build_model` network of the new
width, which `python -m training.train --init PATH --width W --teacher ...` then fine-tunes for a few
epochs to win back what was lost.

A channel's importance is the batch-norm scale it leaves the layer with (|gamma|, network slimming,
Liu et al. 2017) times the weight the next layer gives it. A dropped channel is nearly constant
after its ReLU; that constant is folded into the next layer's batch-norm mean, so dropping it moves
the next layer as little as possible. `--member N` takes one member out of an ensemble file.
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
from training.model import build_model
from training.report import save_with_info


@dataclass
class Architecture:
    """What `build_model` needs to rebuild a trained network."""

    input_shape: tuple[int, int, int]
    num_classes: int
    width: int
    blocks: int
    convs_per_block: int
    dense_units: int
    dropout: float


def read_architecture(model: keras.Model) -> Architecture:
    """The settings of a network written by `build_model`; another kind of network is an error."""
    names = {layer.name for layer in model.layers}
    if "b0_conv0" not in names or "fc" not in names:
        several_heads = "b0_conv0" in names and "h0_fc" in names
        raise ModelFileError(f"{model.name} is not a one-head network built by training.model (no b0_conv0 / fc "
                             "layers); " + ("a shared trunk with several heads is not pruned" if several_heads
                                           else "for an ensemble file pass --member"))
    blocks = 1 + max(int(name[1:].split("_")[0]) for name in names if name.startswith("b") and "_conv" in name)
    convs = 1 + max(int(name.split("_conv")[1]) for name in names if name.startswith("b0_conv"))
    return Architecture(
        input_shape=tuple(model.input_shape[1:]), num_classes=model.output_shape[-1],
        width=model.get_layer("b0_conv0").filters, blocks=blocks, convs_per_block=convs,
        dense_units=model.get_layer("fc").units, dropout=float(model.get_layer("fc_drop").rate),
    )


def conv_names(arch: Architecture) -> list[str]:
    return [f"b{block}_conv{conv}" for block in range(arch.blocks) for conv in range(arch.convs_per_block)]


def channel_importance(gamma: np.ndarray, next_taps: np.ndarray) -> np.ndarray:
    """|gamma| of each channel times the norm of the next layer's weights on it, `next_taps` being that
    layer's kernel as (taps, in, out): 9 taps for a 3x3 convolution, 1 for the dense layer."""
    return np.abs(gamma) * np.sqrt((next_taps**2).sum(axis=(0, 2)))


def pruned(model: keras.Model, width: int) -> keras.Model:
    """A copy of `model` (built by `build_model`) at `width`, keeping each layer's most important channels."""
    arch = read_architecture(model)
    if not 0 < width < arch.width:
        raise ValueError(f"the new width must be between 1 and {arch.width - 1} (the model's is {arch.width}), "
                         f"not {width}")
    keep_in = np.arange(arch.input_shape[-1])
    weights: dict[str, list[np.ndarray]] = {}
    names = conv_names(arch)
    kernels = {name: model.get_layer(name).get_weights()[0] for name in [*names, "fc"]}
    mean_shift: np.ndarray | None = None  # what the dropped channels added to this layer's input, to fold away
    for index, (name, follower) in enumerate(zip(names, [*names[1:], "fc"], strict=True)):
        bn = model.get_layer(name.replace("conv", "bn"))
        gamma, beta, mean, variance = bn.get_weights()
        if mean_shift is not None:
            mean = mean - mean_shift
        filters = width * 2 ** (index // arch.convs_per_block)
        next_taps = kernels[follower].reshape(-1, *kernels[follower].shape[-2:])  # (taps, in, out)
        keep = np.sort(np.argsort(-channel_importance(gamma, next_taps))[:filters])
        dropped = np.setdiff1d(np.arange(len(gamma)), keep)
        weights[name] = [kernels[name][:, :, keep_in][..., keep]]
        weights[bn.name] = [gamma[keep], beta[keep], mean[keep], variance[keep]]
        # A dropped channel is about relu(beta) everywhere; its share of each next output moves to that output's mean.
        constant = np.maximum(beta[dropped], 0.0)
        mean_shift = constant @ next_taps.sum(axis=0)[dropped]
        keep_in = keep
    gamma, beta, mean, variance = model.get_layer("fc_bn").get_weights()
    weights["fc"] = [kernels["fc"][keep_in]]
    weights["fc_bn"] = [gamma, beta, mean - mean_shift, variance]
    weights["probabilities"] = model.get_layer("probabilities").get_weights()

    narrow = build_model(arch.input_shape, arch.num_classes, width=width, blocks=arch.blocks,
                         convs_per_block=arch.convs_per_block, dense_units=arch.dense_units,
                         dropout=arch.dropout, name=model.name)
    for layer_name, values in weights.items():
        narrow.get_layer(layer_name).set_weights(values)
    return narrow


def network_in(model: keras.Model, member: int | None) -> keras.Model:
    """The model itself, or member `member` of an ensemble file (training.ensemble nests them)."""
    if member is None:
        return model
    nested = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    if not 0 <= member < len(nested):
        raise ModelFileError(f"{model.name} has {len(nested)} members; --member must be 0 to {len(nested) - 1}")
    return nested[member]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.prune", description=__doc__.splitlines()[0])
    parser.add_argument("model", help="a .keras file written by training.train (or training.ensemble, with --member)")
    parser.add_argument("--width", type=int, required=True, help="channels of the first block; each block doubles")
    parser.add_argument("--output", required=True, help="where the narrower .keras goes")
    parser.add_argument("--member", type=int, help="which member of an ensemble file to prune (0, 1, ...)")
    parser.add_argument("--name", help="model name (default: the output file's stem)")
    args = parser.parse_args(argv)
    output = Path(args.output)
    try:
        source_info = read_model_info(Path(args.model))
        model = network_in(keras.models.load_model(args.model, compile=False), args.member)
        narrow = pruned(model, args.width)
    except (ModelFileError, OSError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    name = args.name or output.stem
    info = ModelInfo(name, source_info.class_names, source_info.image_size, source_info.channels)
    output.parent.mkdir(parents=True, exist_ok=True)
    save_with_info(narrow, info, output)
    print(f"wrote {output}: width {read_architecture(model).width} -> {args.width}, "
          f"{model.count_params():,} -> {narrow.count_params():,} parameters")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
