"""Endpoint coroutines, one module per API area, each a resource group of the client."""
