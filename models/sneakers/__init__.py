"""The sneaker models: training set rules (labels, price bins, leak-free split, TFRecord features), the
multi-head Keras CNN, stacked meta-models with their baselines, predictions and the evaluation report."""
