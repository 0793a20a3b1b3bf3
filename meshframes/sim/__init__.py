"""A deterministic discrete-event simulated medium for mesh nodes."""
