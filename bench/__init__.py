"""hull's benchmarks: each compares hull with the reference tools side by side in one run."""
