"""Numbers with their uncertainty: effects over seeds with t intervals and three-way verdicts
(``intervals``), and grid region counts that say when they are only lower bounds
(``grid_counts``)."""
