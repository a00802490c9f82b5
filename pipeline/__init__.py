"""Football highlight pipeline."""
