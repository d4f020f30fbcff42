"""Bundled default rules and policy, shipped as package data for both programs."""
