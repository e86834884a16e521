"""coach stage."""
