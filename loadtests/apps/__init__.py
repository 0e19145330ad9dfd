"""Small local programs and proxy configs that benchmarks put under load."""
