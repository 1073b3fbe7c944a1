"""mathdata: audit, synthesise and build arithmetic fine-tuning data."""

__version__ = "0.1.0"
