"""ami: agents that learn a JEPA world model from pixels, remember, reason and plan in latent space."""

__version__ = "0.1.0"
