"""contact stage."""
