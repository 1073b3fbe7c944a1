"""mathtrain: a thin MindFormers plugin -- MindRecord, LoRA training, merge, evaluation."""

__version__ = "0.1.0"
