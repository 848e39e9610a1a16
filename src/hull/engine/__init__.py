"""What a user means by "container" and "image": the engine behind the hull command line."""
