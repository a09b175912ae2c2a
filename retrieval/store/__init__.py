"""Storage: Chroma, the lexical and latent indexes beside it, writer locks and ownership."""
