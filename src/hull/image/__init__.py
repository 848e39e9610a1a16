"""Images: references, manifests and configs, safe layer apply, and the image store."""
