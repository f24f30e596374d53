"""The emulator's route handlers, one class per API area, each handed its state."""
