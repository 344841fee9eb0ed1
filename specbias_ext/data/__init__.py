"""What the networks are evaluated on: coordinate grids and plane slices (``grids``), the 1D
signals and 2D images of the experiments (``signals``), and seeded index pairs (``samplers``)."""
