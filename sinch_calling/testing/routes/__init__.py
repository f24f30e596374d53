"""Route tables of the emulator, one module per API area."""
