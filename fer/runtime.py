"""The two ways to run a trained network on a batch of prepared faces: LiteRT for `.tflite` files,
Keras for `.keras` files.

LiteRT is what the app, the CLI and `EmotionRecognizer()` use: the interpreter and both shipped models
take about a tenth of the memory of TensorFlow, and one face is as fast or faster. Keras stays for
models users bring straight from training; it is imported only when such a file is opened.
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from fer.model_file import ModelFileError
from fer.settings import DEFAULTS, THREADS_VARIABLE

if TYPE_CHECKING:
    from ai_edge_litert.interpreter import Interpreter


class Network(Protocol):
    input_shape: tuple[int | None, ...]  # (batch, height, width, channels); None where any size is taken
    classes: int  # outputs per face

    def predict(self, batch: np.ndarray) -> np.ndarray:
        """Probabilities, (N, classes) float32, for a float32 (N, height, width, channels) batch."""


def litert_available() -> bool:
    """Whether the LiteRT interpreter is installed (it has no wheel for a few platforms)."""
    try:
        import ai_edge_litert.interpreter  # noqa: F401
    except ImportError:
        return False
    return True


def open_network(path: Path, threads: int | None = None) -> Network:
    """The right runtime for `path`'s format."""
    if path.suffix == ".tflite":
        return LiteRTNetwork(path, threads)
    return KerasNetwork(path)


def default_threads() -> int:
    """Threads for one model call: `FER_THREADS`, else up to `model_threads` of the machine's cores."""
    configured = os.environ.get(THREADS_VARIABLE, "")
    if configured.isdigit() and int(configured) > 0:
        return int(configured)
    return min(DEFAULTS.model_threads, os.cpu_count() or 1)


class LiteRTNetwork:
    """A `.tflite` model in the LiteRT interpreter. The interpreter is not re-entrant, so calls are
    serialised; its input is resized only when the batch size changes (a video stream keeps one size)."""

    def __init__(self, path: Path, threads: int | None = None) -> None:
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError as err:
            raise ModelFileError(f"{path} needs the LiteRT runtime: pip install ai-edge-litert ({err})") from err
        try:
            with native_log_lines_dropped():
                self._interpreter = Interpreter(model_path=str(path), num_threads=threads or default_threads())
                self._interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as err:
            raise ModelFileError(f"cannot load the model {path}: {err}") from err
        inputs, outputs = self._interpreter.get_input_details(), self._interpreter.get_output_details()
        if len(inputs) != 1 or len(outputs) != 1:
            raise ModelFileError(f"{path} has {len(inputs)} inputs and {len(outputs)} outputs; "
                                 "a face model has one each")
        self._input, self._output = inputs[0]["index"], outputs[0]["index"]
        self._batch_size = int(inputs[0]["shape"][0])
        self.input_shape = tuple(int(d) for d in inputs[0]["shape"])
        self.classes = int(outputs[0]["shape"][-1])
        self._lock = threading.Lock()

    def predict(self, batch: np.ndarray) -> np.ndarray:
        with self._lock:
            if len(batch) != self._batch_size:
                self._interpreter.resize_tensor_input(self._input, [len(batch), *batch.shape[1:]])
                self._interpreter.allocate_tensors()
                self._batch_size = len(batch)
            self._interpreter.set_tensor(self._input, np.ascontiguousarray(batch, dtype=np.float32))
            self._interpreter.invoke()
            return np.array(self._interpreter.get_tensor(self._output), dtype=np.float32)


# What native code prints to stderr that is never a problem for the user: LiteRT's "INFO: Created TensorFlow
# Lite XNNPACK delegate for CPU." on every model load, and TensorFlow's start-up lines written before its
# log level applies (absl's notice, oneDNN's and "no CUDA drivers" I-lines on a machine without a GPU).
NATIVE_NOISE_PREFIXES = ("INFO: ", "I0000 ", "WARNING: All log messages before absl::InitializeLog()")


@contextmanager
def native_log_lines_dropped() -> Iterator[None]:
    """Native libraries write straight to file descriptor 2, with no switch to turn their notices off.
    Catch what is written there meanwhile and pass on every line but known notices, so a user sees no
    noise and every real error."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no usable stderr (e.g. a service without one): nothing to filter
        yield
        return
    with tempfile.TemporaryFile() as caught:
        os.dup2(caught.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            caught.seek(0)
            for line in caught.read().decode(errors="replace").splitlines(keepends=True):
                if not line.startswith(NATIVE_NOISE_PREFIXES):
                    sys.stderr.write(line)


def inspecting_interpreter(path: Path) -> Interpreter:
    """A LiteRT interpreter that keeps every tensor of `path` readable after a call, for one-off looks inside
    a file (feature maps, weights). Without the default delegate, which would fuse those tensors away; LiteRT's
    warning that keeping them is for debugging is dropped, since a look inside is what it is for."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    with native_log_lines_dropped(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        interpreter = Interpreter(model_path=str(path), experimental_preserve_all_tensors=True,
                                  experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    interpreter.allocate_tensors()
    return interpreter


class KerasNetwork:
    """A `.keras` model. `predict_on_batch` runs Keras' compiled predict step directly (a few ms for
    one face), unlike `predict()`, which builds a data pipeline on every call."""

    def __init__(self, path: Path) -> None:
        # Level 3: not even the "failed call to cuInit" E-line TensorFlow prints on every machine without a GPU.
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        with native_log_lines_dropped():
            try:
                import keras
            except ImportError as err:
                raise ModelFileError(f"{path.name} is a Keras model, which needs Keras and TensorFlow: "
                                     "pip install -r requirements-training.txt (or the package's [training] "
                                     "extra), or use its .tflite copy") from err

            try:
                self._model = keras.models.load_model(path, compile=False)
            except Exception as err:  # Keras raises many types for a damaged file
                raise ModelFileError(f"cannot load the model {path}: {err}") from err
        if len(self._model.inputs) != 1 or len(self._model.outputs) != 1:
            raise ModelFileError(f"{path} has {len(self._model.inputs)} inputs and {len(self._model.outputs)} "
                                 "outputs; a face model has one each")
        self.input_shape = tuple(self._model.inputs[0].shape)
        self.classes = int(self._model.outputs[0].shape[-1])
        self._lock = threading.Lock()

    def predict(self, batch: np.ndarray) -> np.ndarray:
        with self._lock:  # Keras' compiled step is built lazily and is not re-entrant
            return np.asarray(self._model.predict_on_batch(batch.astype(np.float32)), dtype=np.float32)
