"""Calibration programs: the program file model, its plan (checks, travel, ETA), the sequencer."""
