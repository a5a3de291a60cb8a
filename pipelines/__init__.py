"""tf.data input pipelines: small `Dataset -> Dataset` steps chained with `apply`."""
