"""Embeddings: dense vectors (bundled model or an endpoint) and the bundled latent terms."""
