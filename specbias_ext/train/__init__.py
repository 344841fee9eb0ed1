"""Training and recording: ``RegionMonitor`` measures a model from inside any training loop
(``monitor``), the ``Recorder`` is the monitor the trainer drives (``recorder``), and ``trainer``
is the package's own seeded, resumable training loop."""
