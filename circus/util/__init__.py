"""Small shared helpers with no policy."""
