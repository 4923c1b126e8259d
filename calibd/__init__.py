"""calibd: control daemon for the JUNO calibration deployment systems."""

__version__ = "0.1.0"
