"""TensorFlow/Keras model code, input pipelines and evaluation metrics."""
