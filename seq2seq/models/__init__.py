"""The models every task is built from, on the shared core: the language model, the encoder-decoder, its
token, audio and image encoders and attention decoder, and ensembles of them. No task, config or file
format is known here: a task's `build_model` turns its config into these classes' arguments."""
