"""What a run leaves on disk and how it is kept safe: atomic writes with the umask's modes, safe
checkpoint loading and run folders (``files``), the `specbias train` checkpoint and its grid.json
(``checkpoints``), what produced a result (``provenance``), who wrote what in an output folder and the rule every
writer follows before replacing a file (``ownership``), output folder and memory checks
(``output_checks``), and device selection (``devices``)."""
