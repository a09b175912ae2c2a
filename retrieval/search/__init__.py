"""Search: dense, lexical and latent candidates fused, filtered and grouped by translation."""
