"""dunnhumby "Let's get sort of real": reading the landed weekly transaction files and the calendar
(`week_files`), and profiling ingested weeks (`profiling`)."""
