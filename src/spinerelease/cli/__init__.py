"""Command-line interface (Typer). Thin: parse, call the library, present. No physics here."""
