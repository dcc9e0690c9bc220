"""Lab 01, moving a live request: export it from one engine, import it into another, and prove nothing changed."""
