"""The pieces every model shares: the recurrent stack, attention, the output layer, the masked
token log-likelihood (loss, perplexity, scoring), vocabularies and special ids, and search
(greedy, beam, sampling). Nothing here knows about language models or translation."""
