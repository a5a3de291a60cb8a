"""The recurrent language model: its config, model, training, scoring and generation."""
