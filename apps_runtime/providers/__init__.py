"""Model providers (decisions §8): the OpenAI-compatible streaming client and per-workspace
provider configurations.

Public API:

- ``selectors.provider_endpoint_for(workspace, provider) -> client.ProviderEndpoint``: the
  workspace's configuration for ``provider`` (a DSL provider or its last segment) → the
  workspace default → ``OPENAI_BASE_URL`` / ``OPENAI_API_KEY``; else ``ProviderNotConfigured``.
  ``selectors.provider_configured(workspace, provider) -> bool``.
- ``client.chat_stream(endpoint, *, model, messages, params=None, should_stop=None)
  -> Iterator[ModelChunk]``: text chunks, then one chunk with the provider's ``usage`` and
  ``finish_reason``; raises ``ProviderError`` (contract codes) or ``StopRequested``; closing the
  iterator aborts the HTTP call.
- ``services.provider_config_save(config, *, api_key=None, clear_api_key=False, actor=None)``,
  ``services.provider_config_delete(config, *, actor=None)``: the only writers (seal +
  audit; ``actor`` is an ``accounts.audit.Actor``).
"""
