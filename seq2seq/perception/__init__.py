"""Speech recognition and image captioning: feature encoders on the translator's decoder, search and training."""
