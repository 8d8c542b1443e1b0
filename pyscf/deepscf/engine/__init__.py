"""The engine: free atoms, the grid and fingerprints, the network's inference, the fit of the
residual density, the Fock build and the solver.  What a guess or NonSCF runs; no training code."""
