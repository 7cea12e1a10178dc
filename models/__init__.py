"""Networks, the checkpoint format and the style registry."""
