"""napari-allen-sync: synchronize Allen Brain Atlas section images, online or offline."""

__version__ = "0.1.0"
