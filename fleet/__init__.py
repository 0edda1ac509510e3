"""`make fleet`: one action (preview, up, drift, verify) over every cluster stack at once, one summary table.

``fleet.cli`` reads the command line and prints; ``fleet.pool`` runs one worker process per stack
(``fleet.run_one``, the Pulumi Automation API with this project's program); ``fleet.steps``,
``fleet.results`` and ``fleet.report`` are pure: what the engine's events say, and how it is shown.
"""
