"""Training and recording: ``RegionMonitor`` measures a model from inside any training loop
(``monitor``: the schedule and the calls; ``measurements``: what each measurement records;
``monitor_inputs``: the argument checks and the grid inference; ``record_files``: the folder it
writes; ``records``: reading records back as series, tables and figures without the model), the
``Recorder`` is the monitor the trainer drives (``recorder``), and ``trainer`` is the package's
own seeded, resumable training loop."""
