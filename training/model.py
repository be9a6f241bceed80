"""The emotion CNN: a VGG-style stack of 3x3 convolutions with batch norm, in pure Keras 3.

Pure Keras (no backend-specific ops) so the same code trains under TensorFlow on a CPU and under
JAX on a GPU. The model takes uint8-range pixels and scales them itself, so callers only resize.
"""

from __future__ import annotations

import keras
from keras import layers


def build_model(
    input_shape: tuple[int, int, int],
    num_classes: int,
    *,
    width: int = 32,
    blocks: int = 4,
    convs_per_block: int = 2,
    dense_units: int = 256,
    dropout: float = 0.4,
    heads: int = 1,
    branch_blocks: int = 1,
    name: str = "emotion_cnn",
) -> keras.Model:
    """Conv blocks double the channels and halve the resolution; a small dense head classifies.

    `width` and `blocks` trade accuracy for speed: width 32 with 4 blocks runs in a few ms per face
    on one CPU core, wider nets are more accurate on photos.

    `heads` > 1 builds an ensemble with a shared trunk: each head has the last `branch_blocks` conv blocks
    (0: only the dense layers) and a classifier of its own, and the model outputs every head's
    probabilities side by side (`head_probabilities`, heads x classes) so that each head gets its own
    loss (`training.losses`); `average_heads` turns it into the one-output file the app runs.
    """
    if heads < 1 or not 0 <= branch_blocks <= blocks:
        raise ValueError(f"heads must be 1 or more and branch_blocks 0 to {blocks}, not {heads} and {branch_blocks}")
    inputs = keras.Input(shape=input_shape, name="pixels")
    x = layers.Rescaling(1.0 / 255.0, name="scale")(inputs)
    if heads == 1:
        x = conv_blocks(x, range(blocks), width, convs_per_block)
        return keras.Model(inputs, classifier(x, num_classes, dense_units, dropout), name=name)
    shared = blocks - branch_blocks
    x = conv_blocks(x, range(shared), width, convs_per_block)
    outputs = []
    for head in range(heads):
        branch = conv_blocks(x, range(shared, blocks), width, convs_per_block, prefix=f"h{head}_")
        outputs.append(classifier(branch, num_classes, dense_units, dropout, prefix=f"h{head}_"))
    return keras.Model(inputs, layers.Concatenate(name=HEADS_OUTPUT)(outputs), name=name)


HEADS_OUTPUT = "head_probabilities"


def conv_blocks(x, block_numbers: range, width: int, convs_per_block: int = 2, prefix: str = ""):
    """The conv blocks numbered `block_numbers` (block b has width x 2^b channels)."""
    for block in block_numbers:
        filters = width * 2**block
        for conv in range(convs_per_block):
            x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{prefix}b{block}_conv{conv}")(x)
            x = layers.BatchNormalization(name=f"{prefix}b{block}_bn{conv}")(x)
            x = layers.ReLU(name=f"{prefix}b{block}_relu{conv}")(x)
        x = layers.MaxPooling2D(2, name=f"{prefix}b{block}_pool")(x)
        x = layers.SpatialDropout2D(0.05 * (block + 1), name=f"{prefix}b{block}_drop")(x)
    return x


def classifier(x, num_classes: int, dense_units: int, dropout: float, prefix: str = ""):
    """Global average pooling, one dense layer, the class probabilities."""
    x = layers.GlobalAveragePooling2D(name=f"{prefix}gap")(x)
    x = layers.Dense(dense_units, use_bias=False, name=f"{prefix}fc")(x)
    x = layers.BatchNormalization(name=f"{prefix}fc_bn")(x)
    x = layers.ReLU(name=f"{prefix}fc_relu")(x)
    x = layers.Dropout(dropout, name=f"{prefix}fc_drop")(x)
    # Float32 logits and softmax even under mixed precision, for a stable loss.
    return layers.Dense(num_classes, activation="softmax", dtype="float32", name=f"{prefix}probabilities")(x)


def average_heads(model: keras.Model) -> keras.Model:
    """A shared-trunk model as the app runs it: one output, the mean of its heads' probabilities (built-in
    layers only, so `fer` loads it without this package). A one-head model is returned as it is."""
    if HEADS_OUTPUT not in [layer.name for layer in model.layers]:
        return model
    heads = model.get_layer(HEADS_OUTPUT).input
    return keras.Model(model.inputs, layers.Average(name="probabilities")(heads), name=model.name)
