"""dancer: music-driven freeform dance sessions from your own music folder."""

__version__ = "0.1.0"
