"""Human-input forms (issue 10): a paused run's single-use form, answered through the API or the
server-rendered page, expiring by housekeeping or on any read (decisions §5-§7, flows §6)."""
