"""Image captioning on the shared recurrent core (issue 14): the synthetic scene corpus so far."""
