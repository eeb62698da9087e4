"""The process: command line, settings wiring, HTTP front door and logging."""
