"""Training Arena core: datasets, strategies, manifests, sessions, training. Never imports streamlit."""

__version__ = "0.1.0"
