"""Developer tooling that is not part of the installed package (ns-3
capture recording, the bootstrap script)."""
