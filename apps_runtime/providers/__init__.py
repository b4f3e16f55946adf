"""Model providers (decisions §8): the OpenAI-compatible streaming client and per-workspace
provider configurations."""
