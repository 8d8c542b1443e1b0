"""The training pipeline: reference data generation (data), training samples (dataset), the
compact set of the GPU kit (compact), the objectives and the training loop (train).  Never
imported by a guess or NonSCF."""
