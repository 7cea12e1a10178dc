"""The engine core: threads, bounded queues, end of stream, errors, signals, timing, the bus and the stage
registry. It imports nothing from stages/, models/ or train/ (tests/test_layers.py); the application
layer on top is pipeline/app/."""
