"""The streaming engine: threads, bounded queues, end of stream, errors, Ctrl-C and timing."""
