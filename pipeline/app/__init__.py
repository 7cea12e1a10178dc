"""The application layer: the command line, pipeline.yaml building, bench and eval. The only code that
knows every package (engine core, stages, models, train); nothing below imports it."""
