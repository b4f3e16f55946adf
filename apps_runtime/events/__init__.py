"""The run-event log (decisions §6): the single source for live delivery, replay and re-attach."""
