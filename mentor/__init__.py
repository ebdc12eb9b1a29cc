"""mentor: an interactive, auto-graded course from a NumPy neuron to your own GPT."""

__version__ = "0.1.0"
