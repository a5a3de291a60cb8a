"""Encoder-decoder translation: config, encoder, decoder, model, data, training, translator, fusion."""
