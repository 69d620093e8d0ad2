"""nst-tf: learn and do neural style transfer with TensorFlow/Keras."""

__version__ = "0.1.0"
