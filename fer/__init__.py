"""Facial expression recognition: find faces in an image and classify their emotion, offline."""

from fer.classifier import default_model_path
from fer.detection import Box
from fer.images import ImageError, load_rgb
from fer.model_file import ModelFileError, ModelInfo
from fer.recognizer import EmotionRecognizer, FaceResult

__all__ = ["Box", "EmotionRecognizer", "FaceResult", "ImageError", "ModelFileError", "ModelInfo", "default_model_path",
           "load_rgb"]
