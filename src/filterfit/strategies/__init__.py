"""Strategies: how the next parameters to evaluate are chosen."""

from .base import STRATEGIES, Strategy, get_strategy, register_strategy

__all__ = ["STRATEGIES", "Strategy", "get_strategy", "register_strategy"]
