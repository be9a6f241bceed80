"""The commands of `python -m fer` (`fer.cli`), one module each."""
