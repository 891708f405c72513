"""A local, W&B-compatible GraphQL server for tests, demos and benchmarks."""
